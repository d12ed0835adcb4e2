"""Stage ``finetune``: fine-tune the pretrained encoder end to end on the train split of one
evaluation set and score ``evaluation.split`` (docs/mscl.md §6.1).

Metrics are percent top-1/top-5 at clip and video level, single-view and multi-view. An index of
several official splits gets one fine-tuning each (classifiers in ``split_<n>/`` sub-folders,
curves named ``split_<n>/...``, the confusion matrix of the first) and their mean.
"""
from __future__ import annotations

from pathlib import Path

from dvclive import Live

from mscl.data.labeled import split_tables
from mscl.downstream.features import load_encoder
from mscl.downstream.finetune import finetune
from mscl.downstream.pictures import plot_confusion
from mscl.io.atomic import write_metrics
from mscl.io.checkpoint import save_module
from mscl.io.tables import read_videos, split_columns
from mscl.params import stage_params, to_dict
from mscl.pipeline.cli import stage_parser
from mscl.pipeline.splits import over_splits

# what `dvc exp show` compares (and each official split's, where the index holds several); counts,
# seconds and the split are printed
# what experiments compare (the metrics file); timings are printed, not compared (they change every run)
COMPARED = ("single_view", "multi_view", "final_train_loss")

PATHS = {
    "encoder": "input: pretrained encoder.pt (+ .json sidecar)",
    "videos_csv": "input: the video index",
    "frames_dir": "input: frame containers + manifest.csv",
    "model_dir": "output: classifier.pt + .json",
    "metrics": "output: metrics json",
    "confusion": "output: confusion matrix picture",
    "live_dir": "output: dvclive curves",
}


def main(argv: list[str] | None = None) -> None:
    args = stage_parser(__doc__, PATHS).parse_args(argv)
    p, evaluation = stage_params(args.params, "finetune", "evaluation")
    columns = split_columns(read_videos(args.videos_csv))
    live = Live(args.live_dir, save_dvc_exp=False, dvcyaml=None)  # plots are declared in dvc.yaml

    def run(column: str) -> dict:
        sub = "" if len(columns) == 1 else column  # several official splits: one classifier and curve each
        tables = split_tables(args.videos_csv, args.frames_dir, split=evaluation.split, column=column)
        encoder, sidecar = load_encoder(args.encoder, init=evaluation.init, seed=p.seed)
        live.step = 0

        def log(values: dict, epoch: int) -> None:
            for name, value in values.items():
                live.log_metric(f"{sub}/{name}" if sub else name, value)
            live.next_step()

        result = finetune(p, encoder, tables.train, tables.test, len(tables.classes), log=log)
        save_module(Path(args.model_dir) / sub / "classifier.pt", result.model,
                    {"backbone": sidecar["backbone"], "width": sidecar["width"], "classes": tables.classes,
                     "params": to_dict(p), "encoder": sidecar})
        if column == columns[0]:
            plot_confusion(result.confusion, tables.classes, args.confusion)
        return result.metrics | {"split": tables.split, "skipped_videos": tables.skipped}

    metrics, compared = over_splits(columns, run, COMPARED)
    live.end()
    rest = write_metrics(args.metrics, metrics, compared)
    single, multi = metrics["single_view"], metrics["multi_view"]
    print(f"finetune ({evaluation.init} init): {evaluation.split} video top-1 {single['video_top1']}% (1 view), "
          f"{multi['video_top1']}% ({p.test_clips}x{p.test_crops} views); {rest}")
