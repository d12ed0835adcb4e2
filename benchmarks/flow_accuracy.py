"""TV-L1 accuracy against exact flow: direct pairs ``offset`` frames apart, and (``--compose``) the
same pairs chained from consecutive-frame flows (``flow.compose``, mscl/flow/compose.py).

Two sources of motion with known flow:

* the synthetic classes (default): for each class a few videos drawn as the index stage draws
  them (size, speed and family from the pretraining set ``pretrain.data`` of the params file, or
  the options), compared with
  :func:`mscl.synthetic.true_flow` over the pixels of the object, and over the background (pixels
  more than 3 px from the object; the ``relative`` family moves it);
* ``--photo``: real image content, a camera panning over a photograph
  (:func:`mscl.camera.camera_pan`, ``--speed`` px per frame along x, half of it along y, and a
  1.5 % zoom per frame), compared over the whole frame away from its border.

For each offset two frame pairs (from frame 0 and from the middle), with the params file's solver
settings. Reported per offset: the true displacement, the median over pairs of the per-pair
median end-point error (synthetic: on the object, and on the background), the share of pairs
recovered (object error under 1 px), and (synthetic) the object's error per class.

    python benchmarks/flow_accuracy.py --offsets 1 2 4 8                  # the demo's videos
    python benchmarks/flow_accuracy.py --speed 2.0 --offsets 2 8 --compose  # the motion benchmark's
    python benchmarks/flow_accuracy.py --speed 2.0 --offsets 2 --family relative
    python benchmarks/flow_accuracy.py --photo --speed 2.0 --offsets 2 4 8 --compose
"""
from __future__ import annotations

import argparse
import dataclasses

import cv2
import numpy as np

from mscl.camera import camera_pan, sample_photo
from mscl.flow.compose import chain
from mscl.flow.tvl1 import to_gray, tvl1_pairs_opencv
from mscl.params import stage_params
from mscl.synthetic import FAMILIES, render_video, true_flow, video_scene

RECOVERED_PX = 1.0
BORDER = 12  # px of a panned frame left out: content entering the view has no flow to find
BORDER_PX = 3  # background pixels this close to the object are left out: TV-L1 smooths across the edge


def estimate(gray: np.ndarray, starts, offset: int, flow_params, compose: bool) -> list[np.ndarray]:
    """TV-L1 flow of the pairs ``(t, t + offset)``: direct, or chained from consecutive pairs."""
    if not compose:
        return list(tvl1_pairs_opencv(gray, [(t, t + offset) for t in starts], flow_params))
    return [chain(tvl1_pairs_opencv(gray, [(j, j + 1) for j in range(t, t + offset)], flow_params)) for t in starts]


def pair_errors(truths, flows) -> list[tuple[float, float]]:
    """(median |true flow|, median end-point error) per pair, over each pair's mask."""
    out = []
    for (truth, mask), flow in zip(truths, flows):
        err = np.hypot(*(flow[mask] - truth[mask]).T)
        out.append((float(np.median(np.hypot(*truth[mask].T))), float(np.median(err))))
    return out


def scene_errors(scene, frames: np.ndarray, offset: int, flow_params, compose: bool) -> list[tuple[float, float, float]]:
    """(median |true flow| on the object, median error on the object, on the background) for two
    pairs ``offset`` apart of a synthetic video."""
    starts = (0, (scene.num_frames - offset) // 2)
    truths = [true_flow(scene, t, offset) for t in starts]
    flows = estimate(to_gray(frames), starts, offset, flow_params, compose)
    backgrounds = []
    for (truth, inside), flow in zip(truths, flows):
        near = cv2.dilate(inside.astype(np.uint8), np.ones((2 * BORDER_PX + 1,) * 2, np.uint8)) > 0
        backgrounds.append(float(np.median(np.hypot(*(flow - truth)[~near].T))))
    return [(*obj, bg) for obj, bg in zip(pair_errors(truths, flows), backgrounds)]


def photo_errors(speed: float, frames: int, height: int, width: int, offset: int, flow_params,
                 compose: bool) -> list[tuple[float, float]]:
    """:func:`pair_errors` of a camera pan over a photograph, away from the frame's border (the true
    flow over ``offset`` frames is the chain of the exact consecutive flows: exact, since a pan's
    flow is affine and bilinear reading reproduces it)."""
    video, steps = camera_pan(sample_photo(), frames, height, width, step=(speed, speed / 2))
    starts = (0, (frames - offset) // 2)
    mask = np.zeros((height, width), bool)
    mask[BORDER:-BORDER, BORDER:-BORDER] = True
    truths = [(chain(steps[t : t + offset]), mask) for t in starts]
    return pair_errors(truths, estimate(to_gray(video), starts, offset, flow_params, compose))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", default="params.yaml", help="flow solver settings and the synthetic pretraining set")
    ap.add_argument("--offsets", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--videos", type=int, default=3, help="videos per class")
    ap.add_argument("--speed", type=float, help="object speed, px per frame (default: the dataset's speed)")
    ap.add_argument("--height", type=int)
    ap.add_argument("--width", type=int)
    ap.add_argument("--family", choices=tuple(FAMILIES), help="motion classes (default: index.family)")
    ap.add_argument("--compose", action="store_true", help="also chain consecutive flows over each offset")
    ap.add_argument("--photo", action="store_true", help="a camera panning over a photograph instead of the classes")
    ap.add_argument("--json", help="also write the table here (mscl.report.write_table), for the docs")
    args = ap.parse_args(argv)
    datasets, pretrain, flow = stage_params(args.params, "datasets", "pretrain", "flow")
    index = dataclasses.replace(datasets[pretrain.data], **{k: getattr(args, k) for k in ("speed", "height", "width", "family")
                                         if getattr(args, k) is not None})
    if max(args.offsets) >= index.num_frames:
        raise SystemExit(f"error: offsets must be below the dataset's num_frames ({index.num_frames})")
    print(f"TV-L1 scales {flow.scales}, scale_step {flow.scale_step}, warps {flow.warps}; error = median end-point "
          f"error, px; {index.height}x{index.width}, {index.speed} px/frame")
    modes = (False, True) if args.compose else (False,)
    columns, rows = ["offset", "pairs", "true px", "error px", "recovered"], []
    if args.photo:
        print(f"{'offset':>6} {'pairs':>8} {'true px':>8} {'error':>6} {'recovered':>9}")
        for offset in args.offsets:
            for compose in modes:
                true_px, err = (np.array(c) for c in zip(*photo_errors(index.speed, index.num_frames, index.height,
                                                                       index.width, offset, flow, compose)))
                rows.append([offset, "chained" if compose else "direct", float(np.median(true_px)),
                             float(np.median(err)), f"{np.mean(err < RECOVERED_PX):.0%}"])
                print(f"{offset:>6} {rows[-1][1]:>8} {rows[-1][2]:>8.2f} {rows[-1][3]:>6.2f} {rows[-1][4]:>9}", flush=True)
        _write(args, columns, rows)
        return
    classes = FAMILIES[index.family]
    videos = []
    for label in range(len(classes)):
        for n in range(args.videos):
            scene, rng = video_scene(index.seed, label, n, height=index.height, width=index.width,
                                     num_frames=index.num_frames, speed=index.speed, family=index.family)
            videos.append((label, scene, render_video(scene, rng)))
    print(f"{index.family} family; object (background) error")
    print(f"{'offset':>6} {'pairs':>8} {'true px':>8} {'error':>6} {'bg error':>8} {'recovered':>9}  "
          + " ".join(f"{c.replace('background_', 'bg_'):>10}" for c in classes))
    for offset in args.offsets:
        for compose in modes:
            errors = [(label, *e) for label, scene, frames in videos for e in scene_errors(scene, frames, offset, flow, compose)]
            labels, true_px, err, bg_err = (np.array(c) for c in zip(*errors))
            per_class = [float(np.median(err[labels == c])) for c in range(len(classes))]
            rows.append([offset, "chained" if compose else "direct", float(np.median(true_px)), float(np.median(err)),
                         float(np.median(bg_err)), f"{np.mean(err < RECOVERED_PX):.0%}", *per_class])
            print(f"{offset:>6} {rows[-1][1]:>8} {rows[-1][2]:>8.2f} {rows[-1][3]:>6.2f} {rows[-1][4]:>8.2f} {rows[-1][5]:>9}  "
                  + " ".join(f"{e:>10.2f}" for e in per_class), flush=True)
    _write(args, [*columns[:4], "bg error px", columns[4], *classes], rows)


def _write(args, columns: list[str], rows: list[list]) -> None:
    if args.json:
        import sys

        from mscl.report import write_table

        write_table(args.json, columns, rows, "python " + " ".join(["benchmarks/flow_accuracy.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
