"""Stage ``retrieve``: nearest-neighbour video retrieval with frozen features (docs/mscl.md §6.2):
the videos of ``evaluation.split`` of one evaluation set query its train videos (in each official
split it holds; the picture shows the first)."""
from __future__ import annotations

from mscl.data.labeled import split_tables
from mscl.downstream.features import load_encoder, video_retrieval
from mscl.downstream.pictures import plot_neighbours
from mscl.io.atomic import write_metrics
from mscl.io.tables import read_videos, split_columns
from mscl.params import stage_params
from mscl.pipeline.cli import stage_parser
from mscl.pipeline.splits import over_splits

# what `dvc exp show` compares (and each official split's, where the index holds several); counts
# and the split are printed
# what experiments compare (the metrics file); timings are printed, not compared (they change every run)
COMPARED = ("R@1", "R@5", "R@10", "R@20", "R@50")

PATHS = {
    "encoder": "input: pretrained encoder.pt (+ .json sidecar)",
    "videos_csv": "input: the video index",
    "frames_dir": "input: frame containers + manifest.csv",
    "metrics": "output: metrics json",
    "picture": "output: picture of queries and their nearest train videos",
}


def main(argv: list[str] | None = None) -> None:
    args = stage_parser(__doc__, PATHS).parse_args(argv)
    p, evaluation = stage_params(args.params, "retrieve", "evaluation")
    columns = split_columns(read_videos(args.videos_csv))
    encoder, _ = load_encoder(args.encoder, init=evaluation.init, seed=p.seed)

    def run(column: str) -> dict:
        tables = split_tables(args.videos_csv, args.frames_dir, split=evaluation.split, column=column)
        result = video_retrieval(p, encoder, tables.train, tables.test)
        if column == columns[0]:
            plot_neighbours(tables.test, tables.train, result.neighbours, tables.classes, args.picture, count=p.queries)
        return result.metrics | {"split": tables.split, "skipped_videos": tables.skipped}

    metrics, compared = over_splits(columns, run, COMPARED)
    rest = write_metrics(args.metrics, metrics, compared)
    recall = ", ".join(f"{k} {v}%" for k, v in metrics.items() if k.startswith("R@"))
    print(f"retrieve ({evaluation.init} init): {evaluation.split} -> train {recall}; {metrics['videos_per_second']} "
          f"videos/s; {rest}")
