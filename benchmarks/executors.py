"""The ``flow`` stage on the local executor against Ray, in one run on the same frames.

Renders and decodes ``--videos`` synthetic videos, then computes their OpenCV TV-L1 flow twice:
``cluster.executor: local`` with ``--workers`` processes, and ``ray`` on a private local Ray
instance with ``--workers`` CPUs (Ray's start-up is timed separately: a cluster is started once,
not per stage). Prints pairs/s of each and their ratio, and checks the outputs are identical.

    python benchmarks/executors.py --videos 16 --workers 2
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mscl.io.video import encode_video
from mscl.params import ClusterParams, FlowParams, FramesParams, default
from mscl.pipeline.cluster import connect
from mscl.pipeline.flow import extract_flow
from mscl.pipeline.frames import extract_frames
from mscl.synthetic import CLASSES, draw_scene, render_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=16)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root, paths = Path(tmp), []
        for i in range(args.videos):
            rng = np.random.default_rng(i)
            scene = draw_scene(rng, i % len(CLASSES), height=args.height, width=args.width, num_frames=args.frames, speed=2.0)
            paths.append(root / f"src/v{i}.mp4")
            encode_video(paths[-1], render_video(scene, rng), fps=25)
        videos = pd.DataFrame({"video_id": [f"v{i}" for i in range(args.videos)], "path": [str(p) for p in paths]})
        frames, _ = extract_frames(videos, root / "frames", default(FramesParams, short_side=args.height, workers=args.workers))
        p = default(FlowParams, backend="opencv", workers=args.workers, pictures=0)

        results = {}
        for executor in ("local", "ray"):
            cluster = default(ClusterParams, executor=executor)
            if executor == "ray":
                import ray

                t = time.perf_counter()
                ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="WARNING")
                connect(cluster)
                print(f"ray start-up: {time.perf_counter() - t:.1f} s (once per cluster, not timed below)")
            manifest, metrics = extract_flow(frames, root / "frames", root / f"flow-{executor}", p, cluster)
            results[executor] = metrics
            print(f"{executor:5s}: {metrics['flows']} pairs in {metrics['seconds']:.1f} s, {metrics['pairs_per_second']} pairs/s")
        same = all((root / "flow-local" / f).read_bytes() == (root / "flow-ray" / f).read_bytes()
                   for f in (p.relative_to(root / "flow-local") for p in (root / "flow-local").rglob("*.zip")))
        ratio = results["ray"]["pairs_per_second"] / results["local"]["pairs_per_second"]
        print(f"ray / local pairs/s: {ratio:.2f} (same {args.workers} CPUs); outputs identical: {same}")


if __name__ == "__main__":
    main()
