"""The command line every stage script shares: named paths, each declared once by its stage.

``dvc.yaml`` calls ``python stages/<name>.py --params params.yaml --<path> <value> ...``; the
order of the options does not matter, so nothing else has to repeat it.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Mapping


def stage_parser(doc: str, paths: Mapping[str, str], *, dataset: bool = False) -> argparse.ArgumentParser:
    """A parser with ``--params``, with ``dataset`` a ``--dataset`` (the name of the dataset in
    ``params.yaml`` the stage runs on), and one required ``--<name>`` option per entry of ``paths``
    (``{name: what it is}``; underscores become dashes on the command line)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", required=True, help="params.yaml")
    if dataset:
        ap.add_argument("--dataset", required=True, help="the named dataset (params.yaml: datasets.<name>)")
    for name, what in paths.items():
        ap.add_argument(option(name), dest=name, required=True, help=what)
    return ap


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


def to_argv(params: str | Path, paths: Mapping[str, str | Path], dataset: str | None = None) -> list[str]:
    """The command-line words that :func:`stage_parser` reads back as ``params``, ``dataset`` and ``paths``."""
    words = ["--params", str(params)] + (["--dataset", dataset] if dataset is not None else [])
    for name, value in paths.items():
        words += [option(name), str(value)]
    return words
