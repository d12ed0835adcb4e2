"""The ``frames`` stage's work: decode every indexed video into one frame container.

Resumable: a container whose ``meta.json`` carries the fingerprint of the current params and
source file is kept as it is; anything else is (re)computed. Bad inputs become manifest rows
with a status and a reason, never exceptions.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pandas as pd

from mscl.io.atomic import remove_stale_temporaries
from mscl.io.frames import write_frames
from mscl.io.manifest import container_name, finished_meta, manifest_metrics, remove_orphans
from mscl.io.pool import fingerprint, parallel_map
from mscl.io.tables import USABLE
from mscl.io.video import VideoError, decode_video
from mscl.params import FramesParams

MANIFEST_COLUMNS = ["video_id", "frames", "num_frames", "height", "width", "fps", "status", "reason"]


@dataclasses.dataclass(frozen=True)
class FrameJob:
    """One video to decode: where it is, where its container goes, and the params to use."""

    video_id: str
    source: str
    target: str
    params: FramesParams


def job_fingerprint(job: FrameJob) -> str:
    """What the container depends on: decoding params and the source file's identity."""
    p = job.params
    try:
        st = Path(job.source).stat()
        source = (job.source, st.st_size, st.st_mtime_ns)
    except OSError:
        source = (job.source, None, None)
    return fingerprint([source, p.short_side, p.fps, p.max_frames, p.jpeg_quality])


def _row(job: FrameJob, status: str, reason: str = "", meta: dict | None = None) -> dict:
    meta = meta or {}
    return {"video_id": job.video_id, "frames": container_name(job.video_id) if status in USABLE else "",
            "num_frames": meta.get("num_frames", 0), "height": meta.get("height", 0), "width": meta.get("width", 0),
            "fps": meta.get("fps", 0.0), "status": status, "reason": reason}


def decode_one(job: FrameJob) -> dict:
    """Decode one video and write its container; returns its manifest row (never raises)."""
    p, fp = job.params, job_fingerprint(job)
    try:
        video = decode_video(job.source, short_side=p.short_side, fps=p.fps, max_frames=p.max_frames)
    except VideoError as e:
        return _row(job, e.status, e.reason)
    except Exception as e:  # a decoder failure we did not foresee is still a bad input, not a crash
        return _row(job, "decode_error", f"{type(e).__name__}: {e}")
    t, h, w, _ = video.frames.shape
    if t < p.min_frames:
        shape = {"num_frames": t, "height": h, "width": w, "fps": video.fps}
        return _row(job, "too_short", f"{t} frames < frames.min_frames = {p.min_frames}", shape)
    status = "partial" if video.error else "ok"
    meta = {"fingerprint": fp, "fps": video.fps, "status": status, "reason": video.error}
    write_frames(job.target, video.frames, quality=p.jpeg_quality, meta=meta)
    return _row(job, status, video.error, {**meta, "num_frames": t, "height": h, "width": w})


def _done_row(job: FrameJob) -> dict | None:
    """The manifest row of a container already written with the same fingerprint, else None."""
    meta = finished_meta(job.target, job_fingerprint(job))
    return None if meta is None else _row(job, meta["status"], meta.get("reason", ""), meta)


def extract_frames(videos: pd.DataFrame, out_dir: str | Path, p: FramesParams) -> tuple[pd.DataFrame, dict]:
    """Decode every video of ``videos`` (video index) into ``out_dir``.

    Returns:
        the manifest (``MANIFEST_COLUMNS``, one row per video, in index order) and the metrics.
    """
    out_dir = Path(out_dir)
    start = time.perf_counter()
    remove_stale_temporaries(out_dir)
    jobs = [FrameJob(v, s, str(out_dir / container_name(v)), p) for v, s in zip(videos["video_id"], videos["path"])]
    rows = {}
    for job in jobs:
        done = _done_row(job)
        if done is not None:
            rows[job.video_id] = done
    todo = [j for j in jobs if j.video_id not in rows]
    for row in parallel_map(decode_one, todo, workers=p.workers, desc="frames"):
        rows[row["video_id"]] = row
    remove_orphans(out_dir, {container_name(j.video_id) for j in jobs})
    manifest = pd.DataFrame([rows[j.video_id] for j in jobs], columns=MANIFEST_COLUMNS)
    metrics = manifest_metrics(manifest, reused=len(jobs) - len(todo), seconds=time.perf_counter() - start)
    metrics["frames"] = int(manifest.loc[manifest["status"].isin(USABLE), "num_frames"].sum())
    return manifest, metrics

