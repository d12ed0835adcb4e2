"""Pretraining throughput in one run: the backbone ceiling, the full MSCL step, and MSCL fed by the loader.

1. backbone only: an R3D-18 train step (forward + backward + SGD) on a query batch, clips/s
   (the ceiling: MSCL cannot be faster than its RGB query encoder alone);
2. full MSCL step with synthetic inputs (every loss term, key encoders, queues);
3. full MSCL step fed by the real data path (containers -> workers -> prepare_batch), built from
   the synthetic generator in a temporary folder.

Prints the three numbers and the ratios step/ceiling and loader-fed/synthetic-fed.

    python benchmarks/pretrain.py --device cuda --width 64 --crop 112 --batch 32 --workers 12
    python benchmarks/pretrain.py --device cpu --width 16 --crop 64 --batch 8 --workers 2 --steps 5
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mscl.data.pretrain import METHOD_VIEWS, PretrainBatch, PretrainDataset, make_loader, prepare_batch
from mscl.data.sampler import batches_from
from mscl.dist import autocast
from mscl.io.flow_files import write_flow
from mscl.io.frames import write_frames
from mscl.losses.objective import total_loss
from mscl.models.r3d import R3D18
from mscl.params import PretrainParams, default
from mscl.pretrain.train import build_model, build_optimizer, model_inputs
from mscl.synthetic import draw_scene, render_video, true_flow


def timed(step, steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of ``step`` after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def backbone_step(p: PretrainParams, device: torch.device):
    net = R3D18(width=p.width).to(device, memory_format=torch.channels_last_3d)
    if p.compile:
        net = torch.compile(net)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(p.batch_size, 3, p.clip_len, p.crop_size, p.crop_size, device=device)
    x = x.contiguous(memory_format=torch.channels_last_3d)

    def step():
        with autocast(device, p.bf16):
            loss = net(x)[0].float().pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def mscl_step(p: PretrainParams, device: torch.device, batches):
    """A full training step on whatever ``batches`` yields (prepared on ``device``)."""
    model = build_model(p).to(device, memory_format=torch.channels_last_3d)
    runner = torch.compile(model) if p.compile else model
    opt = build_optimizer(model, p)
    gen = torch.Generator().manual_seed(0)

    def step():
        b = prepare_batch(next(batches), device, gen, p)
        with autocast(device, p.bf16):
            losses = runner(**model_inputs(b, p), m_rgb=0.999, m_flow=0.999)
        loss = total_loss(losses)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 40.0)
        opt.step()

    return step


def synthetic_batches(p: PretrainParams):
    """The same raw batch forever (uint8 RGB, normalised flow), as the loader would give it."""
    shape = (p.batch_size, 3, p.frames_per_clip, p.crop_size, p.crop_size)
    views = {}
    for f in METHOD_VIEWS[p.method]:
        if f.startswith("rgb"):
            views[f] = torch.randint(0, 256, shape, dtype=torch.uint8)
        elif f.startswith("static"):
            views[f] = torch.randint(0, 256, (*shape[:2], 1, *shape[3:]), dtype=torch.uint8)
        else:
            views[f] = torch.rand(shape[0], 2, *shape[2:]) * 2 - 1
    batch = PretrainBatch(views=views, index=torch.arange(p.batch_size), replaced=0, prepared=False)
    while True:
        yield batch


def write_dataset(root: Path, videos: int, frames: int, height: int, width: int, offset: int, step: int):
    """Frame and flow containers of synthetic videos (exact flow, not TV-L1: only the I/O matters)."""
    rows, samples = [], []
    for v in range(videos):
        rng = np.random.default_rng(v)
        scene = draw_scene(rng, v % 8, height=height, width=width, num_frames=frames, speed=1.5)
        write_frames(root / f"f{v}.zip", render_video(scene, rng), quality=90, meta={})
        pairs = range(0, frames - offset, step)
        flow = np.stack([true_flow(scene, i, dt=offset)[0] for i in pairs])
        write_flow(root / f"o{v}.zip", flow, bound=40.0, meta={"offset": offset, "step": step})
        rows.append({"video_id": f"v{v}", "frames": f"f{v}.zip", "num_frames": frames, "flow": f"o{v}.zip",
                     "num_flows": len(flow), "status": "ok", "split": "train"})
        samples += [{"video_id": f"v{v}", "split": "train", "label": 0, "start": s, "score": 0.0, "kept": True} for s in range(len(flow))]
    table = pd.DataFrame(rows)
    return (pd.DataFrame(samples), table[["video_id", "frames", "num_frames", "status"]],
            table[["video_id", "flow", "num_flows", "status"]], table[["video_id", "split"]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--crop", type=int, default=112)
    ap.add_argument("--batch", type=int, default=32, help="clips per step (one GPU)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--short-side", type=int, default=128, help="size of the stored frames")
    ap.add_argument("--frames", type=int, default=64, help="stored frames per video")
    ap.add_argument("--interval", type=int, default=8, help="pretrain.interval (flow-index step inside a clip)")
    ap.add_argument("--methods", nargs="+", default=["mscl"], choices=["mscl", "moco", "dclr"],
                    help="pretrain.method values to measure (one run, so their ratios compare)")
    ap.add_argument("--cache-mb", type=int, nargs="+", default=[0],
                    help="pretrain.cache_mb values to measure loader-fed (e.g. 0 512: without and with the cache)")
    args = ap.parse_args()
    device = torch.device(args.device)
    p = default(PretrainParams, width=args.width, flow_width=args.width, crop_size=args.crop, batch_size=args.batch,
                       workers=args.workers, compile=args.compile, queue_size=args.batch * 64, device=args.device,
                       interval=args.interval)
    print(f"{device}: R3D-18 width {p.width}, {p.clip_len}x{p.crop_size}x{p.crop_size} clips, batch {p.batch_size}")

    ceiling = p.batch_size / timed(backbone_step(p, device), args.steps, args.warmup, device)
    print(f"backbone-only train step:   {ceiling:8.1f} clips/s")
    with tempfile.TemporaryDirectory() as tmp:
        height, width = args.short_side, round(args.short_side * 5 / 4)
        samples, frames, flow, videos = write_dataset(Path(tmp), videos=max(4 * p.batch_size, 16), frames=args.frames,
                                                      height=height, width=width, offset=8, step=2)
        for method in args.methods:
            m = dataclasses.replace(p, method=method)
            synthetic = p.batch_size / timed(mscl_step(m, device, synthetic_batches(m)), args.steps, args.warmup, device)
            print(f"{method} step, synthetic input: {synthetic:8.1f} clips/s  ({synthetic / ceiling:.0%} of the backbone ceiling)")
            for cache_mb in args.cache_mb:
                q = dataclasses.replace(m, cache_mb=cache_mb)
                if q.needs_flow:
                    ds = PretrainDataset(samples, frames, flow, tmp, tmp, p=q, offset=8, step=2)
                else:
                    ds = PretrainDataset(None, frames, None, tmp, None, p=q, videos=videos)
                loader = make_loader(ds, q, pin_memory=device.type == "cuda")
                batches = batches_from(loader, 0, 10**9)
                rate = p.batch_size / timed(mscl_step(q, device, batches), args.steps, args.warmup, device)
                print(f"{method} step, loader-fed:      {rate:8.1f} clips/s  ({rate / synthetic:.0%} of synthetic-fed, "
                      f"{args.workers} workers, cache_mb {cache_mb})")
                del loader, batches


if __name__ == "__main__":
    main()
