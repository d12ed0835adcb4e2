"""Stage ``flow``: TV-L1 flow of every video's frame pairs into one flow container, plus a few pictures.

Pairs are (i, i + offset) for i = 0, step, 2 step, .... Two backends:
``opencv`` runs one video per worker process; ``torch`` batches the pairs of many videos on one
device. Resumable as the frames stage: a container whose fingerprint matches is kept.

Only MSCL reads flow: with another ``pretrain.method`` the stage computes nothing and writes an
empty manifest, so pretraining does not wait for TV-L1. Containers of an earlier run stay in the
folder (unlisted), so switching back to MSCL reuses them instead of computing them again.
"""
from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch

from mscl.dist import resolve_device
from mscl.flow.compose import compose_consecutive, consecutive_pairs
from mscl.flow.pictures import render_flow_pictures
from mscl.flow.tvl1 import to_gray, tvl1_pairs_opencv
from mscl.flow.tvl1_torch import tvl1_torch
from mscl.io.atomic import remove_stale_temporaries, write_json
from mscl.io.flow_files import QUANTIZATION, write_flow
from mscl.io.frames import FrameReader, read_meta
from mscl.io.tables import USABLE, read_csv, read_videos, write_csv
from mscl.params import ClusterParams, FlowParams, stage_params
from mscl.pipeline.cli import stage_parser
from mscl.pipeline.cluster import LOCAL, ClusterError, cluster_resources, map_on_actors, map_videos, start
from mscl.pipeline.resume import container_name, finished_meta, job_fingerprint, manifest_metrics, remove_orphans

MANIFEST_COLUMNS = ["video_id", "flow", "num_flows", "height", "width", "clipped", "status", "reason"]



def flow_pairs(num_frames: int, offset: int, step: int) -> list[tuple[int, int]]:
    """Frame pairs ``(i, i + offset)`` for ``i = 0, step, ...`` with both frames stored."""
    return [(i, i + offset) for i in range(0, num_frames - offset, step)]


def resolve_backend(p: FlowParams, cluster_gpus: float | None = None) -> str:
    """``auto`` -> ``torch`` when CUDA is available (the GPU backend), else ``opencv``.

    ``cluster_gpus``: the GPUs of the Ray cluster the work goes to (None: this machine's).
    """
    if p.backend != "auto":
        return p.backend
    if cluster_gpus is not None:
        return "torch" if cluster_gpus > 0 and p.device != "cpu" else "opencv"
    return "torch" if resolve_device(p.device).type == "cuda" else "opencv"


@dataclasses.dataclass(frozen=True)
class FlowJob:
    """One video: its frames container, where its flow goes, and what the result depends on."""

    video_id: str
    frames: str
    target: str
    params: FlowParams
    fingerprint: str


def _row(job: FlowJob, status: str, reason: str = "", meta: dict | None = None) -> dict:
    meta = meta or {}
    return {"video_id": job.video_id, "flow": container_name(job.video_id) if status in USABLE else "",
            "num_flows": meta.get("num_flows", 0), "height": meta.get("height", 0), "width": meta.get("width", 0),
            "clipped": meta.get("clipped", 0.0), "status": status, "reason": reason}


def _load(job: FlowJob) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Grayscale frames ``(T, H, W)`` uint8 of the job's video and the frame pairs TV-L1 runs on:
    the stored pairs, or with ``flow.compose`` the consecutive pairs they are chained from."""
    p = job.params
    with FrameReader(job.frames) as reader:
        pairs = flow_pairs(len(reader), p.offset, p.step)
        gray = to_gray(reader.read(range(len(reader)))) if pairs else np.zeros((0, 0, 0), np.uint8)
    return gray, consecutive_pairs(len(pairs), p.offset, p.step) if p.compose and pairs else pairs


def _save(job: FlowJob, flow: np.ndarray) -> dict:
    """Write one video's flow ``(N, H, W, 2)`` (with ``flow.compose``: chain the consecutive flows
    of :func:`_load`'s pairs first); returns its manifest row."""
    p = job.params
    if p.compose:
        flow = compose_consecutive(flow, p.offset, p.step)
    meta = {"fingerprint": job.fingerprint, "offset": job.params.offset, "step": job.params.step}
    return _row(job, "ok", meta=write_flow(job.target, flow, bound=job.params.bound, meta=meta,
                                           storage=job.params.storage))


def _too_short(job: FlowJob, num_frames: int) -> dict:
    return _row(job, "too_short", f"{num_frames} frames: no pair (i, i + {job.params.offset})")


def flow_one_opencv(job: FlowJob) -> dict:
    """OpenCV TV-L1 of one video (runs in a worker process); returns its manifest row."""
    loaded = _safe_load(job)
    if isinstance(loaded, dict):
        return loaded
    gray, pairs = loaded
    return _save(job, tvl1_pairs_opencv(gray, pairs, job.params))


def _prefetched(jobs: list[FlowJob], depth: int = 4) -> Iterator[tuple[FlowJob, object]]:
    """(job, loaded) in order, reading up to ``depth`` videos ahead in a thread."""
    with ThreadPoolExecutor(1) as io:
        futures = [io.submit(_safe_load, j) for j in jobs[:depth]]
        for k, job in enumerate(jobs):
            if k + depth < len(jobs):
                futures.append(io.submit(_safe_load, jobs[k + depth]))
            yield job, futures[k].result()
            futures[k] = None  # free the frames


def _batches(jobs: list[FlowJob], batch: int, rows: dict) -> Iterator[tuple[list, tuple[np.ndarray, np.ndarray]]]:
    """Yield batches of same-size frame pairs across videos: ([(job, pair index, n_pairs)], (I0, I1))
    with I0, I1 ``(n, H, W)`` uint8.

    Videos that cannot be read or have no pair get their row in ``rows`` and are skipped.
    """
    pending, I0, I1 = [], [], []
    for job, loaded in _prefetched(jobs):
        if isinstance(loaded, dict):
            rows[job.video_id] = loaded
            continue
        gray, pairs = loaded
        for n, (i, j) in enumerate(pairs):
            if I0 and (len(I0) == batch or I0[-1].shape != gray[i].shape):
                yield pending, (np.stack(I0), np.stack(I1))
                pending, I0, I1 = [], [], []
            pending.append((job, n, len(pairs)))
            I0.append(gray[i])
            I1.append(gray[j])
    if I0:
        yield pending, (np.stack(I0), np.stack(I1))


def _safe_load(job: FlowJob) -> tuple[np.ndarray, list] | dict:
    """``_load``, or the video's manifest row when it cannot be read or has no frame pair."""
    try:
        gray, pairs = _load(job)
    except (OSError, KeyError, ValueError) as e:
        return _row(job, "unreadable", f"frames container: {e}")
    return (gray, pairs) if pairs else _too_short(job, len(gray))


class TorchFlowWorker:
    """Batched TV-L1 on one device: in this process, or as a Ray actor (one per GPU)."""

    def __init__(self, p: FlowParams, device: str):
        self.p, self.device = p, resolve_device(device)
        self.compiled = p.compile and self.device.type == "cuda"  # compiling pays off only for the GPU's many pairs

    def run(self, I0: np.ndarray, I1: np.ndarray) -> np.ndarray:
        """Flow ``(n, H, W, 2)`` float32 of the pairs ``(I0[k], I1[k])``, ``(n, H, W)`` uint8 each."""
        I0, I1 = (torch.from_numpy(np.ascontiguousarray(a)).to(self.device) for a in (I0, I1))
        return tvl1_torch(I0, I1, self.p, compile=self.compiled).permute(0, 2, 3, 1).cpu().numpy()


def flow_torch(jobs: list[FlowJob], p: FlowParams, device: torch.device, cluster: ClusterParams = LOCAL,
               cluster_gpus: float = 0.0) -> Iterator[dict]:
    """Batched TV-L1 of many videos; yields manifest rows as videos complete.

    Locally on ``device``; on Ray, one actor per GPU of the cluster (or ``flow.workers`` CPU
    actors when it has none or ``flow.device`` is cpu), batches in flight on all of them.
    """
    rows, partial = {}, {}
    batches = _batches(jobs, p.batch_pairs, rows)
    if cluster.executor == "local":
        worker = TorchFlowWorker(p, str(device))
        results = ((pending, worker.run(*pair)) for pending, pair in batches)
    else:
        gpus = int(cluster_gpus) if p.device != "cpu" else 0
        if p.device == "cuda" and not gpus:
            raise ClusterError("flow.device = cuda, but the Ray cluster has no GPU")
        results = map_on_actors(TorchFlowWorker, (p, "cuda" if gpus else "cpu"), batches, cluster=cluster,
                                actors=gpus or p.workers, gpus_per_actor=1 if gpus else 0)
    with ThreadPoolExecutor(max(1, p.workers)) as writer:  # PNG encoding overlaps the next batch
        futures = []
        for pending, flow in results:
            for (job, n, total), f in zip(pending, flow):
                buf = partial.setdefault(job.video_id, np.empty((total, *f.shape), np.float32))
                buf[n] = f
                if n == total - 1:
                    futures.append(writer.submit(_save, job, partial.pop(job.video_id)))
            yield from rows.values()
            rows.clear()
        yield from rows.values()
        for fut in futures:
            yield fut.result()


def _job(video_id: str, frames_path: str, out_dir: Path, p: FlowParams, backend: str) -> FlowJob:
    source = read_meta(frames_path) or {}
    fp = job_fingerprint(p, source.get("fingerprint"), backend, QUANTIZATION)  # a new byte mapping redoes every video
    return FlowJob(video_id, frames_path, str(out_dir / container_name(video_id)), p, fp)


def extract_flow(frames_manifest: pd.DataFrame, frames_dir: str | Path, out_dir: str | Path, p: FlowParams,
                 cluster: ClusterParams = LOCAL) -> tuple[pd.DataFrame, dict]:
    """TV-L1 flow of every usable video of the frames manifest into ``out_dir``, on the executor
    ``cluster`` names (opencv: a task per video; torch: batches on device actors).

    Returns:
        the flow manifest (``MANIFEST_COLUMNS``, in frames-manifest order) and the metrics.
    """
    start, out_dir = time.perf_counter(), Path(out_dir)
    gpus = cluster_resources(cluster).get("GPU", 0.0) if cluster.executor == "ray" else None
    backend = resolve_backend(p, gpus)
    remove_stale_temporaries(out_dir)
    rows, jobs, reused = {}, [], 0
    for r in frames_manifest.itertuples():
        if r.status not in USABLE:
            rows[r.video_id] = _row(FlowJob(r.video_id, "", "", p, ""), "no_frames", f"frames stage: {r.status}: {r.reason}")
            continue
        job = _job(r.video_id, str(Path(frames_dir) / r.frames), out_dir, p, backend)
        meta = finished_meta(job.target, job.fingerprint)
        if meta is not None:
            rows[r.video_id], reused = _row(job, "ok", meta=meta), reused + 1
        else:
            jobs.append(job)
    if backend == "opencv":
        done = map_videos(flow_one_opencv, jobs, cluster=cluster, workers=p.workers, desc="flow (opencv)",
                          inputs=("frames",), outputs=("target",), failed=lambda job, why: _row(job, "worker_error", why))
    else:
        device = resolve_device(p.device) if cluster.executor == "local" else None
        done = _progress(flow_torch(jobs, p, device, cluster, gpus or 0.0), len(jobs))
    computed = 0
    for row in done:
        rows[row["video_id"]] = row
        computed += row["num_flows"] if row["status"] in USABLE else 0
    remove_orphans(out_dir, {container_name(v) for v in frames_manifest["video_id"]})
    manifest = pd.DataFrame([rows[v] for v in frames_manifest["video_id"]], columns=MANIFEST_COLUMNS)
    metrics = manifest_metrics(manifest, reused=reused, seconds=time.perf_counter() - start)
    usable = manifest[manifest["status"].isin(USABLE)]
    metrics.update(backend=backend, flows=int(usable["num_flows"].sum()),
                   pairs_per_second=round(computed / max(metrics["seconds"], 1e-9), 1),
                   clipped=round(float(usable["clipped"].mean()) if len(usable) else 0.0, 6))
    return manifest, metrics


def _progress(rows: Iterator[dict], total: int) -> Iterator[dict]:
    from tqdm import tqdm

    with tqdm(total=total, desc="flow (torch)", unit="video", dynamic_ncols=True) as bar:
        for row in rows:
            bar.update()
            yield row


PATHS = {
    "videos_csv": "input: the video index (splits)",
    "frames_dir": "input: frame containers and their manifest.csv",
    "out_dir": "output: flow containers and manifest.csv",
    "pictures_dir": "output: flow pictures",
    "log": "output: the run's log (counts, statuses, timings; json)",
}


def main(argv: list[str] | None = None) -> None:
    args = stage_parser(__doc__, PATHS).parse_args(argv)
    p, cluster, pretrain = stage_params(args.params, "flow", "cluster", "pretrain")
    shutil.rmtree(args.pictures_dir, ignore_errors=True)
    Path(args.pictures_dir).mkdir(parents=True)
    if not pretrain.needs_flow:
        write_csv(pd.DataFrame(columns=MANIFEST_COLUMNS), Path(args.out_dir) / "manifest.csv")
        write_json(args.log, {"videos": 0, "method": pretrain.method})
        print(f"flow: pretrain.method {pretrain.method} reads no flow; nothing computed")
        return
    start(cluster, "flow")
    frames = read_csv(Path(args.frames_dir) / "manifest.csv", ["video_id", "frames", "status", "reason"])
    split = read_videos(args.videos_csv).set_index("video_id")["split"]
    frames = frames[frames["video_id"].map(split).isin(p.splits)].reset_index(drop=True)
    manifest, metrics = extract_flow(frames, args.frames_dir, args.out_dir, p, cluster)
    write_csv(manifest, Path(args.out_dir) / "manifest.csv")
    shown = manifest.merge(frames[["video_id", "frames"]], on="video_id")
    render_flow_pictures(shown, args.frames_dir, args.out_dir, args.pictures_dir, count=p.pictures, step=p.step)
    write_json(args.log, metrics)
    print(f"flow ({metrics['backend']}): {metrics['usable']}/{metrics['videos']} videos, {metrics['flows']} flows, "
          f"{metrics['pairs_per_second']} pairs/s, clipped fraction {metrics['clipped']}")
    if metrics["videos"] and not metrics["usable"]:
        sys.exit("flow: every video failed; see the manifest for the reasons")
