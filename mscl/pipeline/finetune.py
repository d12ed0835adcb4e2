"""Stage ``finetune``: fine-tune the pretrained encoder end to end and test it (docs/mscl.md §6.1).

Metrics are percent top-1/top-5 at clip and video level, single-view and multi-view.
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
from mscl.params import stage_params, to_dict
from mscl.pipeline.cli import stage_parser

# what `dvc exp show` compares; counts, seconds and the split are printed
COMPARED = ("single_view", "multi_view", "final_train_loss", "multi_view_videos_per_second")

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
    tables = split_tables(args.videos_csv, args.frames_dir)
    encoder, sidecar = load_encoder(args.encoder, init=evaluation.init, seed=p.seed)
    live = Live(args.live_dir, save_dvc_exp=False, dvcyaml=None)  # plots are declared in dvc.yaml

    def log(values: dict, epoch: int) -> None:
        for name, value in values.items():
            live.log_metric(name, value)
        live.next_step()

    result = finetune(p, encoder, tables.train, tables.test, len(tables.classes), log=log)
    live.end()
    save_module(Path(args.model_dir) / "classifier.pt", result.model,
                {"backbone": sidecar["backbone"], "width": sidecar["width"], "classes": tables.classes,
                 "params": to_dict(p), "encoder": sidecar})
    rest = write_metrics(args.metrics, result.metrics | {"split": tables.split, "skipped_videos": tables.skipped}, COMPARED)
    plot_confusion(result.confusion, tables.classes, args.confusion)
    single, multi = result.metrics["single_view"], result.metrics["multi_view"]
    print(f"finetune ({evaluation.init} init): {tables.split} video top-1 {single['video_top1']}% (1 view), "
          f"{multi['video_top1']}% ({p.test_clips}x{p.test_crops} views); {rest}")
