"""Write files under a temporary name and rename them, so an interrupted run leaves no partial file."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterable, Iterator

TMP_MARK = ".tmp-"


def temporary_path(path: Path) -> Path:
    """A sibling of ``path`` that :func:`remove_stale_temporaries` recognises."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it to ``path``, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Atomically write ``text`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | Path, obj) -> None:
    """Atomically write ``obj`` as indented JSON (keys kept in insertion order)."""
    write_text(path, json.dumps(obj, indent=2) + "\n")


def write_metrics(path: str | Path, values: dict, compared: Iterable[str]) -> str:
    """Write the ``compared`` values (what a user compares across experiments: accuracies,
    recalls, losses, throughput) to the DVC metrics file ``path``; return the others (counts,
    split names, seconds) as one ``key value, ...`` line for the stage to print."""
    compared = list(compared)
    write_json(path, {k: values[k] for k in compared if k in values})
    return ", ".join(f"{k} {v}" for k, v in values.items() if k not in compared)


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete temporaries left by a killed run under ``folder``; returns how many were removed."""
    folder = Path(folder)
    stale = [p for p in folder.rglob(f".*{TMP_MARK}*")] if folder.exists() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)
