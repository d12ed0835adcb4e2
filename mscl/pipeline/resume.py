"""What every resumable stage shares: the fingerprint, container names, orphan removal, manifest metrics."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from mscl.io.digest import fingerprint
from mscl.io.frames import read_meta
from mscl.io.tables import USABLE
from mscl.params import output_values


def job_fingerprint(p, *inputs) -> str:
    """What an output depends on: the fields of params section ``p`` declared to change it
    (:func:`mscl.params.output_values`) and ``inputs`` (content digests, resolved choices)."""
    return fingerprint([output_values(p), *inputs])


def container_name(video_id: str, ext: str = "zip") -> str:
    """Relative file name of a video's container (video ids may contain '/')."""
    return f"{video_id}.{ext}"


def finished_meta(path: str | Path, fingerprint: str) -> dict | None:
    """The ``meta.json`` of a container already written by the same work (same fingerprint), else
    None: what lets a rerun of an interrupted stage skip the videos it finished."""
    meta = read_meta(path)
    return meta if meta is not None and meta.get("fingerprint") == fingerprint else None


def remove_orphans(out_dir: Path, keep: set[str], ext: str = "zip") -> int:
    """Delete containers under ``out_dir`` whose video is no longer listed; returns the count."""
    orphans = [p for p in Path(out_dir).rglob(f"*.{ext}") if str(p.relative_to(out_dir)) not in keep]
    for p in orphans:
        p.unlink()
    return len(orphans)


def manifest_metrics(manifest: pd.DataFrame, *, reused: int, seconds: float) -> dict:
    """Counts per status, usable and failed videos, reuse and time, for ``metrics/<stage>.json``."""
    usable = manifest["status"].isin(USABLE)
    return {
        "videos": len(manifest),
        "usable": int(usable.sum()),
        "failed": int((~usable).sum()),
        "status": {k: int(v) for k, v in manifest["status"].value_counts().sort_index().items()},
        "reused": reused,
        "seconds": round(seconds, 2),
    }
