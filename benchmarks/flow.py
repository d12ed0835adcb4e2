"""TV-L1 speed: frame pairs per second of the OpenCV and PyTorch backends, and their agreement.

Frames are views of a real photograph (matplotlib's sample) by a camera that pans and zooms,
at the field's usual 340 x 256. Measured in one run, on the same pairs and default params:
OpenCV in one process on one core, OpenCV over ``--workers`` single-threaded processes, the
torch backend on CPU and, when CUDA is available, on the GPU (eager and ``torch.compile``d).
Every torch run reports its mean end-point error to OpenCV's flow.

    python benchmarks/flow.py --pairs 8 --batch 8 --threads 1              # CPU, a quick look
    python benchmarks/flow.py --pairs 4096 --batch 256 --skip-torch-cpu    # on a GPU machine
    python benchmarks/flow.py --pairs 4 --profile            # where the torch CPU time goes
"""
from __future__ import annotations

import argparse
import dataclasses
import multiprocessing as mp
import os
import time

import numpy as np
import torch

from mscl.camera import camera_views, looping_poses, sample_photo
from mscl.flow.tvl1 import to_gray, tvl1_pairs_opencv
from mscl.flow.tvl1_torch import tvl1_pairs_torch
from mscl.params import FlowParams, default


def panning_frames(T: int, H: int, W: int) -> np.ndarray:
    """``(T, H, W)`` uint8 gray views of a photograph by a camera circling and zooming (1.5 px/frame)."""
    photo = sample_photo()
    return to_gray(camera_views(photo, looping_poses(photo.shape, T, H, W), H, W, cubic=False))


# --------------------------------------------------------------------------- OpenCV runs

_shared: dict = {}


def _timed(fn, *args, **kwargs):
    """``(fn(...), (wall seconds, CPU seconds of this process))``; on a shared machine the CPU
    time of a single-threaded run is the steadier measure."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, (time.perf_counter() - wall, time.process_time() - cpu)


def _init_worker(gray: np.ndarray, p: FlowParams) -> None:
    import cv2

    cv2.setNumThreads(1)  # one core per process: processes, not threads, share the machine
    _shared.update(gray=gray, p=p)


def _opencv_chunk(pairs: list[tuple[int, int]]) -> np.ndarray:
    return tvl1_pairs_opencv(_shared["gray"], pairs, _shared["p"])


def run_opencv(gray: np.ndarray, pairs: list, p: FlowParams, workers: int):
    """Flow of ``pairs`` over ``workers`` single-threaded processes -> (flow, (wall s, CPU s))."""
    if workers == 1:
        _init_worker(gray, p)
        return _timed(_opencv_chunk, pairs)
    chunks = [pairs[i::workers] for i in range(workers)]
    with mp.get_context("spawn").Pool(workers, _init_worker, (gray, p)) as pool:
        pool.map(_opencv_chunk, [[pairs[0]]] * workers)  # start-up and first call, not timed
        parts, seconds = _timed(pool.map, _opencv_chunk, chunks)
    flow = np.empty((len(pairs), *gray.shape[1:], 2), np.float32)
    for i, part in enumerate(parts):
        flow[i::workers] = part
    return flow, seconds


# --------------------------------------------------------------------------- torch runs


def run_torch(gray, pairs, p: FlowParams, device: str, compile: bool):
    """Flow of ``pairs`` with the torch backend -> (flow, (wall s, CPU s)), after untimed warm-ups."""
    # Compilation, CUDA context and caches; batches of 2 and 1 pairs, which shrinking batches
    # reach, are separate compiled variants.
    for n in sorted({p.batch_pairs, 2, 1}, reverse=True):
        tvl1_pairs_torch(gray, pairs[:n], p, device, compile=compile)
    if device == "cuda":
        torch.cuda.synchronize()
    return _timed(tvl1_pairs_torch, gray, pairs, p, device, compile=compile)  # ends with a copy to host


def profile_torch_cpu(gray, pairs, p: FlowParams) -> None:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        tvl1_pairs_torch(gray, pairs, p, "cpu")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=8, help="frame pairs (t, t + 1) for the torch runs")
    ap.add_argument("--opencv-pairs", type=int, default=16, help="the first pairs, timed with OpenCV (reference)")
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--width", type=int, default=340)
    ap.add_argument("--batch", type=int, default=8, help="pairs per torch batch (FlowParams.batch_pairs)")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="OpenCV processes for the all-cores run")
    ap.add_argument("--cpu-compile", action="store_true", help="also time torch.compile on CPU (slow to compile)")
    ap.add_argument("--skip-torch-cpu", action="store_true", help="no torch CPU runs (large --pairs on a GPU box)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--profile", action="store_true", help="print a torch.profiler table of the CPU backend")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    p = dataclasses.replace(default(FlowParams), batch_pairs=args.batch)
    gray = panning_frames(args.pairs + 1, args.height, args.width)
    pairs = [(t, t + 1) for t in range(args.pairs)]
    print(f"{args.pairs} pairs of {args.width}x{args.height}, torch {torch.__version__}, "
          f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}")

    cv_pairs = pairs[: args.opencv_pairs]
    reference, (wall, cpu) = run_opencv(gray, cv_pairs, p, workers=1)
    rows = [("opencv, 1 process, 1 thread", len(cv_pairs) / wall, cpu / len(cv_pairs), None)]
    if args.workers > 1:
        _, (wall, _) = run_opencv(gray, cv_pairs, p, workers=args.workers)
        rows.append((f"opencv, {args.workers} processes", len(cv_pairs) / wall, None, None))
    runs = [] if args.skip_torch_cpu else [("cpu", False)] + [("cpu", True)] * args.cpu_compile
    if torch.cuda.is_available():
        runs += [("cuda", False), ("cuda", True)]
    for device, compile in runs:
        flow, (wall, cpu) = run_torch(gray, pairs, p, device, compile)
        epe = float(np.linalg.norm(flow[: len(cv_pairs)] - reference, axis=-1).mean())
        name = f"torch {device}{', compiled' if compile else ''}, batch {args.batch}"
        rows.append((name, args.pairs / wall, cpu / args.pairs if device == "cpu" else None, epe))

    print(f"{'backend':40s} {'pairs/s':>8s} {'CPU s/pair':>11s} {'EPE to OpenCV (px)':>19s}")
    for name, rate, cpu, epe in rows:
        cpu_s = "" if cpu is None else f"{cpu:.2f}"
        print(f"{name:40s} {rate:8.2f} {cpu_s:>11s} {'' if epe is None else f'{epe:19.4f}'}")
    gpu = [rate for name, rate, _, _ in rows if name.startswith("torch cuda")]
    if gpu:
        print(f"speed ratio torch GPU (best) / OpenCV 1 core: {max(gpu) / rows[0][1]:.1f}")
    if args.profile:
        profile_torch_cpu(gray, pairs[: args.batch], p)


if __name__ == "__main__":
    main()
