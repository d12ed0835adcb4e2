"""Speed of the pretraining data path: query + key views per second, from real containers.

Writes synthetic videos (frames as JPEG containers, their exact flow with a little noise as
quantised flow containers in each ``--storage``) at short side 128 and 256 in a temporary folder, then measures
PretrainDataset items (8-frame RGB clip, its flow and the FRA-rotated flow, for query and key,
cropped to 112) through the DataLoader in process, with 1 worker and with all workers, and
``prepare_batch`` (colour augmentation, flow colour coding) on the CPU and on CUDA if present.

    python benchmarks/loader.py --videos 8 --batches 6 --workers 2
    python benchmarks/loader.py --sizes 256 --workers 1 --storage png raw   # flow storages compared
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mscl.data.pretrain import PretrainDataset, collate, make_loader, prepare_batch, read_clip_frames
from mscl.data.sampler import batches_from
from mscl.io.flow_files import write_flow
from mscl.io.frames import write_frames
from mscl.params import PretrainParams, default
from mscl.sampling.clips import clip_indices, num_flows
from mscl.synthetic import draw_scene, render_video, true_flow

OFFSET, STEP = 8, 2  # MSCL's flow pairing (docs/mscl.md §2.1)


def write_videos(root: Path, *, videos: int, entries: int, frames: int, short: int,
                 storage: str = "raw") -> tuple[pd.DataFrame, ...]:
    """``videos`` containers of ``frames`` frames at ``short x 4/3 short``, listed ``entries`` times
    in all (entry e reads container e % videos); returns the three tables."""
    L = num_flows(frames, OFFSET, STEP)
    for v in range(videos):
        rng = np.random.default_rng(v)
        scene = draw_scene(rng, v % 8, height=short, width=short * 4 // 3, num_frames=frames, speed=2.0)
        flow = np.stack([true_flow(scene, j * STEP, OFFSET)[0] for j in range(L)])
        flow += rng.normal(0, 0.2, flow.shape).astype(np.float32)  # TV-L1 is never exactly 0
        write_frames(root / f"f{v}.zip", render_video(scene, rng), quality=90, meta={})
        write_flow(root / f"o{v}.zip", flow, bound=20.0, meta={"offset": OFFSET, "step": STEP}, storage=storage)
    ids = [f"e{e:04d}" for e in range(entries)]
    samples = pd.DataFrame([{"video_id": i, "split": "train", "label": 0, "start": s, "score": 0.0, "kept": s % 2 == 0}
                            for i in ids for s in range(L)])
    frames_manifest = pd.DataFrame({"video_id": ids, "frames": [f"f{e % videos}.zip" for e in range(entries)], "status": "ok"})
    flow_manifest = pd.DataFrame({"video_id": ids, "flow": [f"o{e % videos}.zip" for e in range(entries)],
                                  "num_flows": L, "status": "ok"})
    return samples, frames_manifest, flow_manifest


def loader_rate(ds: PretrainDataset, p: PretrainParams, batches: int) -> float:
    """Items per second over ``batches`` batches after one warm-up batch (worker start-up)."""
    loader = make_loader(ds, p)
    n, t = 0, None
    for b in batches_from(loader, 0, batches + 1):
        n += len(b.index)
        if t is None:
            n, t = 0, time.perf_counter()
    rate = n / (time.perf_counter() - t)
    del loader  # stop its persistent workers before the next measurement
    return rate


def breakdown(ds: PretrainDataset, items: int) -> tuple[float, float]:
    """Milliseconds per item in process: reading both clips, and all the CPU work of an item."""
    p, t_read = ds.p, 0.0
    for i in range(items):
        idx = np.concatenate([clip_indices(s, p.clip_len, p.interval, int(ds.num_flows[i % len(ds)])) for s in (0, 5)])
        t = time.perf_counter()
        read_clip_frames(ds.frames[i % len(ds)], ds.flows[i % len(ds)], idx, offset=OFFSET, step=STEP)
        t_read += time.perf_counter() - t
    t = time.perf_counter()
    for i in range(items):
        ds[i % len(ds)]
    return 1e3 * t_read / items, 1e3 * (time.perf_counter() - t) / items


def prepare_rate(ds: PretrainDataset, device: str, batches: int) -> float:
    """Items per second of ``prepare_batch`` on ``device`` (batches built once, copied each time)."""
    raw = collate([ds[i % len(ds)] for i in range(ds.p.batch_size)])
    gen = torch.Generator().manual_seed(0)
    prepare_batch(raw, device, gen, ds.p)  # warm-up (kernels, allocator)
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(batches):
        out = prepare_batch(raw, device, gen, ds.p)
    if device == "cuda":
        torch.cuda.synchronize()
    del out
    return batches * ds.p.batch_size / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=8, help="distinct containers written per size")
    ap.add_argument("--frames", type=int, default=136, help="stored frames per video (136 -> 64 flows)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="short sides of the stored frames")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--batches", type=int, default=6, help="timed batches per measurement")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--storage", nargs="+", default=["raw"], choices=["raw", "png"], help="flow storages to measure")
    args = ap.parse_args()
    torch.set_num_threads(1)  # in-process figures are then per core, like a worker's
    base = default(PretrainParams, clip_len=8, interval=8, crop_size=112, batch_size=args.batch, seed=0)
    for short, storage in itertools.product(args.sizes, args.storage):
        with tempfile.TemporaryDirectory() as tmp:
            tables = write_videos(Path(tmp), videos=args.videos, entries=4 * args.batch, frames=args.frames, short=short,
                                  storage=storage)
            ds = PretrainDataset(*tables, tmp, tmp, p=base, offset=OFFSET, step=STEP)
            print(f"\nshort side {short} ({short}x{short * 4 // 3}), flow storage {storage}, 8x112x112 query+key views, "
                  f"batch {args.batch}")
            read_ms, item_ms = breakdown(ds, 2 * args.batch)
            print(f"  one item in process: {item_ms:6.1f} ms, of which reading 16 frames + 16 flows {read_ms:5.1f} ms")
            for workers in sorted({0, 1, args.workers}):
                for gpu_augment in (True, False):
                    p = dataclasses.replace(base, workers=workers, gpu_augment=gpu_augment)
                    ds = PretrainDataset(*tables, tmp, tmp, p=p, offset=OFFSET, step=STEP)
                    rate = loader_rate(ds, p, args.batches)
                    where = "colour aug on device" if gpu_augment else "colour aug in workers"
                    print(f"  loader, {workers} workers, {where:22s} {rate:7.1f} items/s ({rate / max(workers, 1):6.1f} per core)")
            raw = PretrainDataset(*tables, tmp, tmp, p=base, offset=OFFSET, step=STEP)  # colour aug left to prepare_batch
            for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
                print(f"  prepare_batch on {device:4s}                       {prepare_rate(raw, device, args.batches):7.1f} items/s")


if __name__ == "__main__":
    main()
