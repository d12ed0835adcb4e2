"""Speed of the pretraining data path: query + key views per second, from real containers.

Writes videos in a temporary folder at short side 128 and 256 (frames as JPEG containers, their
exact flow at MSCL's pairing with a little noise as quantised flow containers in each
``--storage``): by default views of a real photograph by a moving camera (``--content photo``:
real image statistics for the JPEG decoder), or the synthetic motion classes. Then measures, at
the paper's settings (8-frame 112 x 112 query and key views, RGB and flow, MDS-kept starts, the
paper's augmentations, no decoded-video cache as on data larger than memory):

* one item in process, split by stage: reading the container members, RGB (JPEG) decode, flow
  decode, the augmentation (everything else of an item) and the collate, per item;
* items/s through the DataLoader with 1 worker and with all workers (and per core);
* ``prepare_batch`` (colour augmentation, flow colour coding) on the CPU and on CUDA if present.

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

from mscl.camera import camera_flow, camera_views, looping_poses, sample_photo
from mscl.data.pretrain import PretrainDataset, collate, make_loader, prepare_batch
from mscl.data.sampler import batches_from
from mscl.io.flow_files import FlowReader, write_flow
from mscl.io.frames import FrameReader, decode_jpeg, write_frames
from mscl.params import PretrainParams, default
from mscl.sampling.clips import clip_indices, num_flows, rgb_index
from mscl.synthetic import draw_scene, render_video, true_flow

OFFSET, STEP = 8, 2  # MSCL's flow pairing (docs/mscl.md §2.1)


def write_videos(root: Path, *, videos: int, entries: int, frames: int, short: int, storage: str = "raw",
                 content: str = "photo") -> tuple[pd.DataFrame, ...]:
    """``videos`` containers of ``frames`` frames at ``short x 4/3 short``, listed ``entries`` times
    in all (entry e reads container e % videos); returns the three tables."""
    L = num_flows(frames, OFFSET, STEP)
    H, W = short, short * 4 // 3
    photo = sample_photo() if content == "photo" else None
    for v in range(videos):
        rng = np.random.default_rng(v)
        if photo is not None:  # each video circles the photo from its own phase
            poses = looping_poses(photo.shape, frames + 5 * v, H, W)[5 * v :]
            rgb = camera_views(photo, poses, H, W)
            flow = np.stack([camera_flow(poses[j * STEP], poses[j * STEP + OFFSET], H, W) for j in range(L)])
        else:
            scene = draw_scene(rng, v % 8, height=H, width=W, num_frames=frames, speed=2.0)
            rgb = render_video(scene, rng)
            flow = np.stack([true_flow(scene, j * STEP, OFFSET)[0] for j in range(L)])
        flow += rng.normal(0, 0.2, flow.shape).astype(np.float32)  # TV-L1 is never exactly 0
        write_frames(root / f"f{v}.zip", rgb, quality=90, meta={})
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


def stage_split(ds: PretrainDataset, items: int) -> dict[str, float]:
    """Milliseconds per item in this process: reading the members of both clips (RGB and flow),
    decoding the RGB frames (JPEG) and the flow, the augmentation (the rest of an item) and the
    collate of a batch (divided by its size)."""
    p, t = ds.p, dict.fromkeys(("read", "rgb decode", "flow decode", "augmentation", "collate", "item"), 0.0)
    for i in range(items):
        v = i % len(ds)
        idx = np.unique(np.concatenate([clip_indices(s, p.clip_len, p.interval, int(ds.num_flows[v])) for s in (0, 5)]))
        t0 = time.perf_counter()
        with FrameReader(ds.frames[v]) as fr, FlowReader(ds.flows[v]) as fl:
            jpegs = fr.read_bytes(rgb_index(idx, STEP))
            flows = [fl.member_bytes(int(j)) for j in idx]
            t1 = time.perf_counter()
            np.stack([decode_jpeg(b) for b in jpegs])
            t2 = time.perf_counter()
            np.stack([fl.decode(int(j), data) for j, data in zip(idx, flows)])
            t3 = time.perf_counter()
        t["read"] += t1 - t0
        t["rgb decode"] += t2 - t1
        t["flow decode"] += t3 - t2
        t4 = time.perf_counter()
        ds[v]
        t["item"] += time.perf_counter() - t4
    batch = [ds[i % len(ds)] for i in range(p.batch_size)]
    t5 = time.perf_counter()
    collate(batch)
    t["collate"] = (time.perf_counter() - t5) * items / p.batch_size
    t["augmentation"] = t["item"] - t["read"] - t["rgb decode"] - t["flow decode"]
    return {k: 1e3 * v / items for k, v in t.items()}


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
    ap.add_argument("--content", default="photo", choices=["photo", "synthetic"],
                    help="photo: a camera over a real photograph; synthetic: the motion classes")
    args = ap.parse_args()
    torch.set_num_threads(1)  # in-process figures are then per core, like a worker's
    base = default(PretrainParams, clip_len=8, interval=8, crop_size=112, batch_size=args.batch, seed=0, cache_mb=0,
                   crop_scale=(0.2, 1.0), workers=0)
    for short, storage in itertools.product(args.sizes, args.storage):
        with tempfile.TemporaryDirectory() as tmp:
            tables = write_videos(Path(tmp), videos=args.videos, entries=4 * args.batch, frames=args.frames, short=short,
                                  storage=storage, content=args.content)
            ds = PretrainDataset(*tables, tmp, tmp, p=base, offset=OFFSET, step=STEP)
            print(f"\nshort side {short} ({short}x{short * 4 // 3}), {args.content}, flow storage {storage}, 8x112x112 query+key views, "
                  f"batch {args.batch}")
            split = stage_split(ds, 2 * args.batch)
            parts = ", ".join(f"{k} {v:.1f}" for k, v in split.items() if k != "item")
            print(f"  one item in process: {split['item'] + split['collate']:6.1f} ms ({parts} ms), "
                  f"{1e3 / (split['item'] + split['collate']):5.1f} items/s per core")
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
