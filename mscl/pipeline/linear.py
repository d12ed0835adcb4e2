"""Stage ``linear``: a linear classifier on frozen features of the pretrained encoder, fitted on
train and scored on ``evaluation.split`` of one evaluation set (each official split it holds)."""
from __future__ import annotations

from mscl.data.labeled import split_tables
from mscl.downstream.features import load_encoder
from mscl.downstream.finetune import linear_probe
from mscl.io.atomic import write_metrics
from mscl.io.tables import read_videos, split_columns
from mscl.params import stage_params
from mscl.pipeline.cli import stage_parser
from mscl.pipeline.splits import over_splits

# what `dvc exp show` compares (and each official split's, where the index holds several); counts
# and the split are printed
# what experiments compare (the metrics file); timings are printed, not compared (they change every run)
COMPARED = ("clip_top1", "clip_top5", "video_top1", "video_top5")

PATHS = {
    "encoder": "input: pretrained encoder.pt (+ .json sidecar)",
    "videos_csv": "input: the video index",
    "frames_dir": "input: frame containers + manifest.csv",
    "metrics": "output: metrics json",
}


def main(argv: list[str] | None = None) -> None:
    args = stage_parser(__doc__, PATHS).parse_args(argv)
    p, evaluation = stage_params(args.params, "linear", "evaluation")
    columns = split_columns(read_videos(args.videos_csv))
    encoder, _ = load_encoder(args.encoder, init=evaluation.init, seed=p.seed)

    def run(column: str) -> dict:
        tables = split_tables(args.videos_csv, args.frames_dir, split=evaluation.split, column=column)
        metrics = linear_probe(p, encoder, tables.train, tables.test, len(tables.classes))
        return metrics | {"split": tables.split, "skipped_videos": tables.skipped}

    metrics, compared = over_splits(columns, run, COMPARED)
    rest = write_metrics(args.metrics, metrics, compared)
    print(f"linear ({evaluation.init} init): {evaluation.split} video top-1 {metrics['video_top1']}%, "
          f"top-5 {metrics['video_top5']}%; {metrics['videos_per_second']} videos/s feature extraction; {rest}")
