"""TV-L1 accuracy on the synthetic motion: end-point error against the generator's exact flow.

For each class of the synthetic dataset, a few videos drawn as the index stage draws them
(size and speed from the pretraining set ``pretrain.data`` of the params file, or the options),
and for each flow offset
two frame pairs (from frame 0 and from the middle): the OpenCV TV-L1 flow with the params file's
solver settings, compared with :func:`mscl.synthetic.true_flow` over the pixels that belong to
the object. Reported per offset: the true displacement, the median over pairs of the per-pair
median error, the share of pairs recovered (median error under 1 px), and the error per class.

    python benchmarks/flow_accuracy.py --offsets 1 2 4 8                  # the demo's videos
    python benchmarks/flow_accuracy.py --speed 2.0 --offsets 2 8          # the motion benchmark's
"""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from mscl.flow.tvl1 import to_gray, tvl1_pairs_opencv
from mscl.params import stage_params
from mscl.synthetic import CLASSES, render_video, true_flow, video_scene

RECOVERED_PX = 1.0


def pair_errors(scene, frames: np.ndarray, offset: int, flow_params) -> list[tuple[float, float]]:
    """(median |true flow|, median end-point error) over the object for two pairs ``offset`` apart."""
    starts = (0, (scene.num_frames - offset) // 2)
    flows = tvl1_pairs_opencv(to_gray(frames), [(t, t + offset) for t in starts], flow_params)
    out = []
    for flow, t in zip(flows, starts):
        truth, inside = true_flow(scene, t, offset)
        err = np.hypot(*(flow[inside] - truth[inside]).T)
        out.append((float(np.median(np.hypot(*truth[inside].T))), float(np.median(err))))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", default="params.yaml", help="flow solver settings and the synthetic pretraining set")
    ap.add_argument("--offsets", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--videos", type=int, default=3, help="videos per class")
    ap.add_argument("--speed", type=float, help="object speed, px per frame (default: the dataset's speed)")
    ap.add_argument("--height", type=int)
    ap.add_argument("--width", type=int)
    args = ap.parse_args(argv)
    datasets, pretrain, flow = stage_params(args.params, "datasets", "pretrain", "flow")
    index = dataclasses.replace(datasets[pretrain.data], **{k: getattr(args, k) for k in ("speed", "height", "width")
                                         if getattr(args, k) is not None})
    if max(args.offsets) >= index.num_frames:
        raise SystemExit(f"error: offsets must be below the dataset's num_frames ({index.num_frames})")
    videos = []
    for label in range(len(CLASSES)):
        for n in range(args.videos):
            scene, rng = video_scene(index.seed, label, n, height=index.height, width=index.width,
                                     num_frames=index.num_frames, speed=index.speed)
            videos.append((label, scene, render_video(scene, rng)))
    print(f"{len(videos)} videos {index.height}x{index.width}, speed {index.speed} px/frame; TV-L1 "
          f"scales {flow.scales}, scale_step {flow.scale_step}, warps {flow.warps}; error = median end-point "
          f"error over the object's pixels, px")
    print(f"{'offset':>6} {'true px':>8} {'error':>6} {'recovered':>9}  " + " ".join(f"{c:>10}" for c in CLASSES))
    for offset in args.offsets:
        rows = [(label, *e) for label, scene, frames in videos for e in pair_errors(scene, frames, offset, flow)]
        labels, true_px, err = (np.array(c) for c in zip(*rows))
        per_class = " ".join(f"{np.median(err[labels == c]):>10.2f}" for c in range(len(CLASSES)))
        print(f"{offset:>6} {np.median(true_px):>8.2f} {np.median(err):>6.2f} "
              f"{np.mean(err < RECOVERED_PX):>9.0%}  {per_class}", flush=True)


if __name__ == "__main__":
    main()
