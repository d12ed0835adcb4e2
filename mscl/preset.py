"""Params presets: a YAML file of ``section: {key: value}`` applied over ``params.yaml`` as the
``-S section.key=value`` flags of ``dvc exp run``, so an experiment records every value it changed.

    dvc exp run $(python -m mscl.preset presets/paper.yaml) -S index.root=<path>

The preset is checked against the params file first (every key must exist, every value pass its
section's validation), so a typo stops before DVC starts anything.
"""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import yaml

from mscl.params import SECTIONS, ParamsError, from_dict


def format_value(v) -> str:
    """A params value as ``dvc exp run -S`` parses it (YAML)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(format_value(x) for x in v) + "]"
    return str(v)


def set_args(sets: dict) -> list[str]:
    """``-S key=value`` arguments for every ``{"section.key": value}``."""
    return [a for k, v in sets.items() for a in ("-S", f"{k}={format_value(v)}")]


def load_preset(path: str | Path, params: str | Path = "params.yaml") -> dict:
    """``{"section.key": value}`` of the preset at ``path``, validated over the file ``params``."""
    preset = yaml.safe_load(Path(path).read_text()) or {}
    base = yaml.safe_load(Path(params).read_text()) or {}
    sets = {}
    for section, values in preset.items():
        if section not in SECTIONS:
            raise ParamsError(f"{path}: no params section named {section!r}; known: {', '.join(SECTIONS)}")
        from_dict(SECTIONS[section], {**(base.get(section) or {}), **values}, section)
        sets |= {f"{section}.{key}": value for key, value in values.items()}
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
