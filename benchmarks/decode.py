"""Decoding speed of the ``frames`` stage: frames per second with one worker and with all.

Encodes a real H.264 file (synthetic content at a typical dataset resolution), then measures
(a) PyAV decode + resize alone and (b) the whole per-video job (decode, resize, JPEG, zip) with
1 process and with ``--workers`` processes, all in one run so the ratio is meaningful.

    python benchmarks/decode.py --height 240 --width 320 --frames 300 --videos 8 --workers 2
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from mscl.io.digest import DigestCache
from mscl.io.video import decode_video, encode_video
from mscl.params import FramesParams, default
from mscl.pipeline.frames import decode_one, frame_job
from mscl.pipeline.pool import parallel_map
from mscl.synthetic import draw_scene, render_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--videos", type=int, default=8, help="jobs in the multi-process measurement")
    ap.add_argument("--short-side", type=int, default=128)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        scene = draw_scene(rng, 0, height=args.height, width=args.width, num_frames=args.frames, speed=2.0)
        src = Path(tmp) / "video.mp4"
        encode_video(src, render_video(scene, rng), fps=25)
        print(f"video: {args.frames} frames {args.width}x{args.height} H.264, {src.stat().st_size / 1e6:.1f} MB")

        decode_video(src, short_side=args.short_side, max_frames=10)  # warm up (library loading)
        t = time.perf_counter()
        n = len(decode_video(src, short_side=args.short_side).frames)
        decode_fps = n / (time.perf_counter() - t)
        print(f"decode+resize only, 1 process:        {decode_fps:8.0f} frames/s")

        p = default(FramesParams, short_side=args.short_side, workers=1)
        digests = DigestCache(Path(tmp) / "digests.sqlite")
        jobs = [frame_job(f"v{i}", str(src), str(Path(tmp) / f"out{i}.zip"), p, digests) for i in range(args.videos)]
        results = {}
        for workers in (1, args.workers):
            t = time.perf_counter()
            total = sum(row["num_frames"] for row in parallel_map(decode_one, jobs, workers=workers, desc=f"{workers} workers"))
            results[workers] = total / (time.perf_counter() - t)
        print(f"full frames job, 1 process:           {results[1]:8.0f} frames/s")
        print(f"full frames job, {args.workers} processes:          {results[args.workers]:8.0f} frames/s "
              f"({results[args.workers] / results[1]:.2f}x, {results[args.workers] / args.workers:.0f} per worker)")


if __name__ == "__main__":
    main()
