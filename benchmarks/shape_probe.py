"""What besides motion the pretrained RGB encoder keeps: a linear probe for the object's shape.

On the embedded synthetic dataset every video shows one object whose shape (circle, square,
triangle) is drawn independently of the motion class. The linear stage probes the frozen
features for the class; this script runs the same probe (`linear` params, same clips and
classifier, `evaluation.split`) with the shape as the label, read back from the generator's scene
of each video. Compared with the random-init encoder it says whether pretraining kept or added
appearance (shape rising) or traded it for motion (shape falling while the class rises). Run it
on a synthetic evaluation set (`--dataset`, default the demo's `motion`), after `dvc repro linear`:

    python benchmarks/shape_probe.py                   # the pretrained encoder
    python benchmarks/shape_probe.py --init random     # the untrained reference, same seed
"""
from __future__ import annotations

import argparse

import numpy as np

from mscl.data.labeled import split_tables
from mscl.downstream.features import load_encoder
from mscl.downstream.finetune import linear_probe
from mscl.params import stage_params
from mscl.synthetic import SHAPES, video_number, video_scene


def scene_shape(video_id: str, label: int, index) -> int:
    """Index in SHAPES of the object of a synthetic video (as generated with the dataset's params ``index``)."""
    scene, _ = video_scene(index.seed, label, video_number(video_id), height=index.height, width=index.width,
                           num_frames=index.num_frames, speed=index.speed, family=index.family)
    return SHAPES.index(scene.shape)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--dataset", default="motion", help="a synthetic dataset of the params file (datasets.<name>)")
    ap.add_argument("--encoder", default="models/pretrain/encoder.pt")
    ap.add_argument("--init", choices=("pretrained", "random"), default="pretrained")
    args = ap.parse_args(argv)
    p, datasets, evaluation = stage_params(args.params, "linear", "datasets", "evaluation")
    index = datasets.get(args.dataset)
    if index is None or index.source != "synthetic":
        raise SystemExit(f"error: the shape is known only for a synthetic dataset (datasets.{args.dataset}: {index})")
    data = f"data/{args.dataset}"
    tables = split_tables(f"{data}/index/videos.csv", f"{data}/frames", split=evaluation.split)
    train, test = tables.train.copy(), tables.test.copy()
    for t in (train, test):
        t["label"] = [scene_shape(v, int(c), index) for v, c in zip(t.video_id, t.label)]
    encoder, _ = load_encoder(args.encoder, init=args.init, seed=p.seed)
    metrics = linear_probe(p, encoder, train, test, len(SHAPES))
    counts = np.bincount(test.label, minlength=len(SHAPES))
    print(f"shape probe ({args.init} encoder): {tables.split} video top-1 {metrics['video_top1']}% "
          f"(majority shape {100 * counts.max() / counts.sum():.1f}%, {len(test)} videos)")


if __name__ == "__main__":
    main()
