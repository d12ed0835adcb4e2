"""TV-L1 accuracy on the synthetic motion: end-point error against the generator's exact flow.

For each class of the synthetic dataset, a few videos drawn as the index stage draws them
(size, speed and family from ``index`` of the params file, or the options), and for each flow
offset two frame pairs (from frame 0 and from the middle): the OpenCV TV-L1 flow with the params
file's solver settings, compared with :func:`mscl.synthetic.true_flow` over the pixels that
belong to the object, and over the background (pixels more than 3 px from the object; the
``relative`` family moves it). Reported per offset: the object's true displacement, the median
over pairs of the per-pair median error on the object and on the background, the share of pairs
recovered (object error under 1 px), and the object's error per class.

    python benchmarks/flow_accuracy.py --offsets 1 2 4 8                  # the demo's videos
    python benchmarks/flow_accuracy.py --speed 2.0 --offsets 2 8          # the motion benchmark's
    python benchmarks/flow_accuracy.py --speed 2.0 --offsets 2 --family relative
"""
from __future__ import annotations

import argparse
import dataclasses

import cv2
import numpy as np

from mscl.flow.tvl1 import to_gray, tvl1_pairs_opencv
from mscl.params import stage_params
from mscl.synthetic import FAMILIES, render_video, true_flow, video_scene

RECOVERED_PX = 1.0
BORDER_PX = 3  # background pixels this close to the object are left out: TV-L1 smooths across the edge


def pair_errors(scene, frames: np.ndarray, offset: int, flow_params) -> list[tuple[float, float, float]]:
    """(median |true flow|, median end-point error on the object, on the background) for two pairs
    ``offset`` apart."""
    starts = (0, (scene.num_frames - offset) // 2)
    flows = tvl1_pairs_opencv(to_gray(frames), [(t, t + offset) for t in starts], flow_params)
    out = []
    for flow, t in zip(flows, starts):
        truth, inside = true_flow(scene, t, offset)
        near = cv2.dilate(inside.astype(np.uint8), np.ones((2 * BORDER_PX + 1,) * 2, np.uint8)) > 0
        err = np.hypot(*(flow - truth).transpose(2, 0, 1))
        out.append((float(np.median(np.hypot(*truth[inside].T))), float(np.median(err[inside])),
                    float(np.median(err[~near]))))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", default="params.yaml", help="flow solver settings and the synthetic index")
    ap.add_argument("--offsets", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--videos", type=int, default=3, help="videos per class")
    ap.add_argument("--speed", type=float, help="object speed, px per frame (default: index.speed)")
    ap.add_argument("--height", type=int)
    ap.add_argument("--width", type=int)
    ap.add_argument("--family", choices=tuple(FAMILIES), help="motion classes (default: index.family)")
    args = ap.parse_args(argv)
    index, flow = stage_params(args.params, "index", "flow")
    index = dataclasses.replace(index, **{k: getattr(args, k) for k in ("speed", "height", "width", "family")
                                         if getattr(args, k) is not None})
    if max(args.offsets) >= index.num_frames:
        raise SystemExit(f"error: offsets must be below index.num_frames ({index.num_frames})")
    classes = FAMILIES[index.family]
    videos = []
    for label in range(len(classes)):
        for n in range(args.videos):
            scene, rng = video_scene(index.seed, label, n, height=index.height, width=index.width,
                                     num_frames=index.num_frames, speed=index.speed, family=index.family)
            videos.append((label, scene, render_video(scene, rng)))
    print(f"{len(videos)} {index.family} videos {index.height}x{index.width}, speed {index.speed} px/frame; TV-L1 "
          f"scales {flow.scales}, scale_step {flow.scale_step}, warps {flow.warps}; error = median end-point "
          f"error over the object's (background's) pixels, px")
    print(f"{'offset':>6} {'true px':>8} {'error':>6} {'bg error':>8} {'recovered':>9}  "
          + " ".join(f"{c.replace('background_', 'bg_'):>10}" for c in classes))
    for offset in args.offsets:
        rows = [(label, *e) for label, scene, frames in videos for e in pair_errors(scene, frames, offset, flow)]
        labels, true_px, err, bg_err = (np.array(c) for c in zip(*rows))
        per_class = " ".join(f"{np.median(err[labels == c]):>10.2f}" for c in range(len(classes)))
        print(f"{offset:>6} {np.median(true_px):>8.2f} {np.median(err):>6.2f} {np.median(bg_err):>8.2f} "
              f"{np.mean(err < RECOVERED_PX):>9.0%}  {per_class}", flush=True)


if __name__ == "__main__":
    main()
