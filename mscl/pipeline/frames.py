"""Stage ``frames``: decode every indexed video into one frame container.

Resumable: a container whose ``meta.json`` carries the fingerprint of the current params and
the source file's content is kept as it is; anything else is (re)computed. Bad inputs become
manifest rows with a status and a reason, never exceptions.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from mscl.io.atomic import remove_stale_temporaries, write_json
from mscl.io.digest import DigestCache
from mscl.io.frames import write_frames
from mscl.io.tables import USABLE, read_videos, write_csv
from mscl.io.video import VideoError, decode_video
from mscl.params import ClusterParams, FramesParams, stage_params
from mscl.pipeline.cli import stage_parser
from mscl.pipeline.cluster import LOCAL, map_videos, start
from mscl.pipeline.resume import container_name, finished_meta, job_fingerprint, manifest_metrics, remove_orphans

MANIFEST_COLUMNS = ["video_id", "frames", "num_frames", "height", "width", "fps", "status", "reason"]


@dataclasses.dataclass(frozen=True)
class FrameJob:
    """One video to decode: where it is, where its container goes, the params to use and the
    fingerprint of what the container depends on (:func:`frame_job`)."""

    video_id: str
    source: str
    target: str
    params: FramesParams
    fingerprint: str


def source_fingerprint(source: str | Path, p: FramesParams, digests: DigestCache) -> str:
    """What a container depends on: the source file's content (not its name, place or mtime, so
    a pulled or regenerated identical file reuses it; ``digests`` remembers it while the file's
    size and time stay the same) and the params that change the frames."""
    try:
        digest = digests(source)
    except OSError:
        digest = None  # decoding will report why
    return job_fingerprint(p, digest)


def frame_job(video_id: str, source: str, target: str, p: FramesParams, digests: DigestCache) -> FrameJob:
    return FrameJob(video_id, source, target, p, source_fingerprint(source, p, digests))


def _row(job: FrameJob, status: str, reason: str = "", meta: dict | None = None) -> dict:
    meta = meta or {}
    return {"video_id": job.video_id, "frames": container_name(job.video_id) if status in USABLE else "",
            "num_frames": meta.get("num_frames", 0), "height": meta.get("height", 0), "width": meta.get("width", 0),
            "fps": meta.get("fps", 0.0), "status": status, "reason": reason}


def decode_one(job: FrameJob) -> dict:
    """Decode one video and write its container; returns its manifest row (never raises)."""
    p, fp = job.params, job.fingerprint
    try:
        video = decode_video(job.source, short_side=p.short_side, fps=p.fps, max_frames=p.max_frames)
    except VideoError as e:
        return _row(job, e.status, e.reason)
    except Exception as e:  # a decoder failure we did not foresee is still a bad input, not a crash
        return _row(job, "decode_error", f"{type(e).__name__}: {e}")
    t, h, w, _ = video.frames.shape
    if t < p.min_frames:
        return _too_short(job, {"num_frames": t, "height": h, "width": w, "fps": video.fps})
    status = "partial" if video.error else "ok"
    meta = {"fingerprint": fp, "fps": video.fps, "status": status, "reason": video.error}
    write_frames(job.target, video.frames, quality=p.jpeg_quality, meta=meta)
    return _row(job, status, video.error, {**meta, "num_frames": t, "height": h, "width": w})


def _done_row(job: FrameJob) -> dict | None:
    """The manifest row of a container already written with the same fingerprint, else None.

    ``min_frames`` decides only the status, so it is applied here rather than fingerprinted: a
    container now too short is removed, as a fresh run would not have written it.
    """
    meta = finished_meta(job.target, job.fingerprint)
    if meta is None:
        return None
    if meta["num_frames"] < job.params.min_frames:
        Path(job.target).unlink()
        return _too_short(job, meta)
    return _row(job, meta["status"], meta.get("reason", ""), meta)


def _too_short(job: FrameJob, meta: dict) -> dict:
    return _row(job, "too_short", f"{meta['num_frames']} frames < frames.min_frames = {job.params.min_frames}", meta)


def extract_frames(videos: pd.DataFrame, out_dir: str | Path, p: FramesParams,
                   cluster: ClusterParams = LOCAL) -> tuple[pd.DataFrame, dict]:
    """Decode every video of ``videos`` (video index) into ``out_dir``, on the executor
    ``cluster`` names (a task that fails past its retries marks its video ``worker_error``).

    Returns:
        the manifest (``MANIFEST_COLUMNS``, one row per video, in index order) and the metrics.
    """
    out_dir = Path(out_dir)
    start = time.perf_counter()
    remove_stale_temporaries(out_dir)
    targets = [str(out_dir / container_name(v)) for v in videos["video_id"]]
    digests = DigestCache()
    with ThreadPoolExecutor(8) as pool:  # hashing reads every new or changed source: overlap the reads
        jobs = list(pool.map(lambda v, s, t: frame_job(v, s, t, p, digests), videos["video_id"], videos["path"], targets))
    digests.close()
    rows = {}
    for job in jobs:
        row = _done_row(job)
        if row is not None:
            rows[job.video_id] = row
    todo = [j for j in jobs if j.video_id not in rows]
    done = map_videos(decode_one, todo, cluster=cluster, workers=p.workers, desc="frames", inputs=("source",),
                      outputs=("target",), failed=lambda job, reason: _row(job, "worker_error", reason))
    for row in done:
        rows[row["video_id"]] = row
    remove_orphans(out_dir, {container_name(j.video_id) for j in jobs})
    manifest = pd.DataFrame([rows[j.video_id] for j in jobs], columns=MANIFEST_COLUMNS)
    metrics = manifest_metrics(manifest, reused=len(jobs) - len(todo), seconds=time.perf_counter() - start)
    metrics["frames"] = int(manifest.loc[manifest["status"].isin(USABLE), "num_frames"].sum())
    return manifest, metrics


PATHS = {
    "videos_csv": "input: the video index",
    "out_dir": "output: frame containers and manifest.csv",
    "log": "output: the run's log (counts, statuses, timings; json)",
}


def main(argv: list[str] | None = None) -> None:
    args = stage_parser(__doc__, PATHS).parse_args(argv)
    p, cluster = stage_params(args.params, "frames", "cluster")
    start(cluster, "frames")
    manifest, metrics = extract_frames(read_videos(args.videos_csv), args.out_dir, p, cluster)
    write_csv(manifest, Path(args.out_dir) / "manifest.csv")
    write_json(args.log, metrics)
    print(f"frames: {metrics['usable']}/{metrics['videos']} videos usable, {metrics['frames']} frames, status {metrics['status']}")
    if metrics["videos"] and not metrics["usable"]:
        sys.exit("frames: every video failed; see the manifest for the reasons")
