"""Params presets: a YAML file of ``section: {key: value}`` applied over ``params.yaml`` as the
``-S section.key=value`` flags of ``dvc exp run``, so an experiment records every value it changed.

    dvc exp run $(python -m mscl.preset presets/paper.yaml) -S datasets.k400.root=<path> ...

A preset's ``datasets`` section names the datasets of the experiment: it replaces the params
file's (flags ``-S ~datasets.<name>`` remove the others, ``-S +datasets.<name>.<key>=...`` add
new entries; DVC reads them as Hydra overrides). The preset is checked against the params file
first (every key must exist, every value pass its section's validation and the rules across
sections), so a typo stops before DVC starts anything.
"""
from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import yaml

from mscl.params import SECTIONS, ParamsError, check_roles, from_dict

_PLAIN = re.compile(r"[A-Za-z0-9_./:\-]+")  # a string the override grammar reads as it is


def format_value(v) -> str:
    """A params value as ``dvc exp run -S`` parses it (YAML, in Hydra's override grammar)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(format_value(x) for x in v) + "]"
    if isinstance(v, str) and not _PLAIN.fullmatch(v):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(v)


def set_args(sets: dict) -> list[str]:
    """``-S key=value`` arguments for every ``{"section.key": value}`` (``"~key": None``: ``-S ~key``,
    which removes the key)."""
    return [a for k, v in sets.items() for a in ("-S", k if k.startswith("~") else f"{k}={format_value(v)}")]


def dataset_sets(base: dict, preset: dict) -> dict:
    """The overrides that turn the ``datasets`` section ``base`` into ``preset``: every entry of
    ``base`` that ``preset`` lacks removed, every key of ``preset`` set (``+``: added where
    ``base`` lacks it), every key of a kept entry that ``preset`` lacks removed."""
    sets = {f"~datasets.{name}": None for name in base if name not in preset}
    for name, entry in preset.items():
        old = base.get(name) or {}
        sets |= {f"~datasets.{name}.{key}": None for key in old if key not in entry}
        sets |= {f"{'' if key in old else '+'}datasets.{name}.{key}": value for key, value in entry.items()}
    return sets


def load_preset(path: str | Path, params: str | Path = "params.yaml") -> dict:
    """``{"section.key": value}`` of the preset at ``path`` (its ``datasets``: :func:`dataset_sets`),
    validated over the file ``params``."""
    preset = yaml.safe_load(Path(path).read_text()) or {}
    base = yaml.safe_load(Path(params).read_text()) or {}
    sets, merged = {}, dict(base)
    for section, values in preset.items():
        if section not in SECTIONS:
            raise ParamsError(f"{path}: no params section named {section!r}; known: {', '.join(SECTIONS)}")
        if section == "datasets":
            merged[section] = values
            sets |= dataset_sets(base.get(section) or {}, values)
        else:
            merged[section] = {**(base.get(section) or {}), **values}
            sets |= {f"{section}.{key}": value for key, value in values.items()}
    check_roles({name: from_dict(cls, merged[name], name) for name, cls in SECTIONS.items() if name in merged})
    return sets


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("preset", help="the preset file, e.g. presets/paper.yaml")
    ap.add_argument("--params", default="params.yaml", help="the params file it applies to")
    args = ap.parse_args(argv)
    try:
        print(shlex.join(set_args(load_preset(args.preset, args.params))))
    except ParamsError as e:
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    main()
