"""The official splits an evaluation stage scores, and their mean.

An index holds one official split (column ``split``) or several (``split_1``, ``split_2``, ...:
``datasets.<name>.splits: [1, 2, 3]`` of UCF101 or HMDB51). An evaluation stage runs once per
official split and reports, as the papers do, the mean over the splits, keeping each split's
own metrics beside it.
"""
from __future__ import annotations

from typing import Callable


def over_splits(columns: list[str], run: Callable[[str], dict],
                compared: tuple[str, ...]) -> tuple[dict, tuple[str, ...]]:
    """``run(column)`` for every official split column of an index (:func:`mscl.io.tables.split_columns`).

    Args:
        compared: the keys of ``run``'s metrics that experiments compare (the metrics file's).
    Returns:
        the metrics: one split's as they are, or the :func:`mean_metrics` of several with each
        split's ``compared`` values under its column name (``split_1``: {...}); and the keys the
        metrics file keeps (``compared``, and the column names of several splits).
    """
    per_split = {column: run(column) for column in columns}
    if len(per_split) == 1:
        return next(iter(per_split.values())), compared
    own = {c: {k: v for k, v in m.items() if k in compared} for c, m in per_split.items()}
    return mean_metrics(list(per_split.values())) | own, compared + tuple(columns)


def mean_metrics(runs: list[dict]) -> dict:
    """The mean of every number over ``runs`` (nested dicts of one layout), rounded to 2
    decimals; a value that is no number (e.g. the split's name) is the first run's."""
    first = runs[0]
    out = {}
    for key, value in first.items():
        values = [r[key] for r in runs]
        if isinstance(value, dict):
            out[key] = mean_metrics(values)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = round(sum(values) / len(values), 2)
        else:
            out[key] = value
    return out

