"""What each stage costs per item on this machine, and what that makes for UCF101 and Kinetics-400.

Measured on one core each (one process, one thread), on real image content (a camera panning over a
photograph, encoded as H.264): the ``frames`` job per frame (decode, resize, JPEG, zip) from a
320 x 240 source (UCF101's size) and from a 1280 x 720 one (a typical Kinetics download), stored at
short side 256 (the paper's) and 128; TV-L1 per frame pair at 340 x 256 and 170 x 128 (OpenCV);
MDS scoring per flow frame; the bytes per stored frame and flow frame (raw and PNG); and, at the
paper's model size (R3D-18 width 64, 8 x 112 x 112 clips), MSCL pretraining clips/s and the
evaluation's forward clips/s (16 x 112 x 112) on this CPU. Two tables go to ``--out`` (JSON, shown
in docs/hardware.md): per item, and per dataset (hours on one core; disk). GPU rows are not
measured here: ``bash benchmarks/device.sh`` measures them on a GPU machine.

    python benchmarks/hardware.py --out benchmarks/results/hardware
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from pretrain import mscl_step, synthetic_batches, timed  # noqa: E402  (the pretraining benchmark's step)

from mscl.flow.tvl1 import to_gray, tvl1_pairs_opencv  # noqa: E402
from mscl.io.digest import DigestCache  # noqa: E402
from mscl.io.flow_files import FlowReader, write_flow  # noqa: E402
from mscl.io.video import encode_video  # noqa: E402
from mscl.models.r3d import R3D18  # noqa: E402
from mscl.params import FlowParams, FramesParams, PretrainParams, default  # noqa: E402
from mscl.pipeline.frames import decode_one, frame_job  # noqa: E402
from mscl.report import write_table  # noqa: E402
from mscl.sampling.screening import video_frame_scores  # noqa: E402
from mscl.camera import camera_pan, sample_photo  # noqa: E402

# the datasets' sizes (train and test videos of split 1; Kinetics-400 train): videos, mean frames
DATASETS = {"UCF101": (13_320, 186), "HMDB51": (6_766, 94), "Kinetics-400 (train)": (240_000, 285)}
FLOW_STEP = 2  # MSCL's pairing: one flow frame per 2 stored frames


def pan_video(frames: int, height: int, width: int) -> np.ndarray:
    return camera_pan(sample_photo(), frames, height, width, step=(1.5, 0.7))[0]


def frames_job(src: Path, short_side: int, tmp: Path) -> tuple[float, float]:
    """(seconds per frame, KiB per stored frame) of the frames stage's per-video job."""
    p = default(FramesParams, short_side=short_side, workers=1, min_frames=1)
    job = frame_job("v", str(src), str(tmp / f"out{short_side}.zip"), p, DigestCache(tmp / "d.sqlite"))
    t = time.perf_counter()
    row = decode_one(job)
    seconds = time.perf_counter() - t
    return seconds / row["num_frames"], Path(job.target).stat().st_size / 1024 / row["num_frames"]


def flow_pair(height: int, width: int, pairs: int, tmp: Path) -> tuple[float, float, float, float]:
    """(seconds per TV-L1 pair, MDS seconds per flow frame, KiB per flow frame raw, png)."""
    gray = to_gray(pan_video(pairs + 1, height, width))
    p = default(FlowParams)
    t = time.perf_counter()
    flow = tvl1_pairs_opencv(gray, [(i, i + 1) for i in range(pairs)], p)
    per_pair = (time.perf_counter() - t) / pairs
    sizes = []
    for storage in ("raw", "png"):
        path = tmp / f"flow_{storage}_{height}.zip"
        write_flow(path, flow, bound=20.0, meta={"offset": 1, "step": 1}, storage=storage)
        sizes.append(path.stat().st_size / 1024 / pairs)
    with FlowReader(tmp / f"flow_raw_{height}.zip") as reader:
        t = time.perf_counter()
        video_frame_scores(reader, block=28, device=torch.device("cpu"))
        mds = (time.perf_counter() - t) / pairs
    return per_pair, mds, *sizes


def pretrain_clips_per_s(steps: int) -> float:
    p = default(PretrainParams, device="cpu", width=64, flow_width=64, crop_size=112, clip_len=8, batch_size=8,
                queue_size=256, bf16=False, bn_splits=1)
    return p.batch_size / timed(mscl_step(p, torch.device("cpu"), synthetic_batches(p)), steps, 1, torch.device("cpu"))


def eval_clips_per_s(batches: int) -> float:
    net = R3D18(width=64).eval().to(memory_format=torch.channels_last_3d)
    x = torch.randn(8, 3, 16, 112, 112).contiguous(memory_format=torch.channels_last_3d)
    with torch.no_grad():
        return 8 / timed(lambda: net(x), batches, 1, torch.device("cpu"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="writes <out>_items.json and <out>_datasets.json")
    ap.add_argument("--frames", type=int, default=48, help="frames of each source video")
    ap.add_argument("--pairs", type=int, default=6, help="TV-L1 pairs timed per size")
    ap.add_argument("--steps", type=int, default=3, help="pretraining steps timed")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    import cv2

    cv2.setNumThreads(1)
    items = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        per_frame = {}
        for h, w in ((240, 320), (720, 1280)):
            src = tmp / f"src{h}.mp4"
            encode_video(src, pan_video(args.frames, h, w), fps=25)
            for side in (256, 128):
                per_frame[(h, side)] = frames_job(src, side, tmp)
                s, kib = per_frame[(h, side)]
                items.append([f"frames: decode {w}x{h}, store short side {side}", "frame", round(1 / s, 1), round(kib, 1)])
        flows = {}
        for h, w in ((256, 340), (128, 170)):
            flows[h] = flow_pair(h, w, args.pairs, tmp)
            pair, mds, raw, png = flows[h]
            items.append([f"flow: TV-L1 at {w}x{h} (OpenCV)", "frame pair", round(1 / pair, 2), f"raw {raw:.1f} / png {png:.1f}"])
            items.append([f"screen: MDS scores at {w}x{h}", "flow frame", round(1 / mds, 1), ""])
    clips = pretrain_clips_per_s(args.steps)
    items.append(["pretrain: MSCL step, R3D-18 width 64, 8x112x112, batch 8", "clip", round(clips, 2), ""])
    evals = eval_clips_per_s(args.steps)
    items.append(["finetune/linear/retrieve: forward, 16x112x112", "clip", round(evals, 2), ""])
    command = "python benchmarks/hardware.py " + " ".join(sys.argv[1:])
    write_table(f"{args.out}_items.json", ["work (one core)", "item", "items/s", "KiB per item stored"], items, command)

    rows = []
    for name, (videos, mean_frames) in DATASETS.items():
        n = videos * mean_frames
        source = 720 if name.startswith("Kinetics") else 240
        frames_s, frames_kib = per_frame[(source, 256)]
        pair, mds, raw, png = flows[256]
        flow_frames = n / FLOW_STEP
        rows.append([name, videos, f"{n / 1e6:.2f} M", round(n * frames_s / 3600, 1), round(n * frames_kib / 2**20, 1),
                     round(flow_frames * pair / 3600, 1), round(n * pair / 3600, 1),
                     f"{flow_frames * raw / 2**20:.0f} / {flow_frames * png / 2**20:.0f}",
                     round(flow_frames * mds / 3600, 1), round(videos / clips / 3600, 1)])  # an epoch: one clip per video
    write_table(f"{args.out}_datasets.json",
                ["dataset", "videos", "frames", "frames h/core", "frames GiB (256)", "flow h/core (offset 8, step 2)",
                 "flow h/core (compose)", "flow GiB raw / png", "screen h/core", "pretrain h/epoch on this CPU"],
                rows, command)
    print(f"wrote {args.out}_items.json and {args.out}_datasets.json")


if __name__ == "__main__":
    main()
