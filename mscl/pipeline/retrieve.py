"""Stage ``retrieve``: nearest-neighbour video retrieval with frozen features (docs/mscl.md §6.2)."""
from __future__ import annotations

from mscl.data.labeled import split_tables
from mscl.downstream.features import load_encoder, video_retrieval
from mscl.downstream.pictures import plot_neighbours
from mscl.io.atomic import write_metrics
from mscl.params import stage_params
from mscl.pipeline.cli import stage_parser

# what `dvc exp show` compares; counts and the split are printed
COMPARED = ("R@1", "R@5", "R@10", "R@20", "R@50", "videos_per_second")

PATHS = {
    "encoder": "input: pretrained encoder.pt (+ .json sidecar)",
    "videos_csv": "input: the video index",
    "frames_dir": "input: frame containers + manifest.csv",
    "metrics": "output: metrics json",
    "picture": "output: picture of test queries and their nearest train videos",
}


def main(argv: list[str] | None = None) -> None:
    args = stage_parser(__doc__, PATHS).parse_args(argv)
    p, evaluation = stage_params(args.params, "retrieve", "evaluation")
    tables = split_tables(args.videos_csv, args.frames_dir)
    encoder, _ = load_encoder(args.encoder, init=evaluation.init, seed=p.seed)
    result = video_retrieval(p, encoder, tables.train, tables.test)
    rest = write_metrics(args.metrics, result.metrics | {"split": tables.split, "skipped_videos": tables.skipped}, COMPARED)
    plot_neighbours(tables.test, tables.train, result.neighbours, tables.classes, args.picture, count=p.queries)
    recall = ", ".join(f"{k} {v}%" for k, v in result.metrics.items() if k.startswith("R@"))
    print(f"retrieve ({evaluation.init} init): {tables.split} -> train {recall}; {result.metrics['videos_per_second']} videos/s; {rest}")
