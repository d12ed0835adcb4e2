"""Positive control of a benchmark family: can the benchmark's RGB encoder learn the classes at all?

A pretraining method cannot put into the frozen encoder what the encoder cannot learn, so before
a grid is worth running, the same encoder (the preset's width, clip and crop) is trained with the
labels from random initialisation on the same train videos and scored on val: the `finetune` stage
of the preset's `random-init` arm, with a recipe and a number of epochs. Each run is a named DVC
experiment (`control-<preset>-<recipe>-e<epochs>-s<seed>`) started from the committed params.yaml,
as the benchmark runner does; `table` writes the finished ones as a measured table for the docs
(docs/benchmarks.md, "Positive control"):

    python benchmarks/positive_control.py run --preset benchmarks/relative.yaml --recipe lr0.001-fp32 --epochs 40
    python benchmarks/positive_control.py table --json benchmarks/results/positive_control.json

Recipes: `defaults` is the `finetune` stage's values (made for fine-tuning a pretrained encoder);
`lr0.001-fp32` trains from scratch with a smaller lr, in fp32 and without dropout. Every recipe
crops as pretraining does (`finetune.crop_scale` [0.5, 1]: smaller crops often miss the object).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from mscl.bench import run as bench_run
from mscl.bench.grid import grid, load_preset, overrides
from mscl.preset import set_args
from mscl.report import experiment_rows, lookup, write_table

RECIPES = {
    "defaults": {},
    "lr0.001-fp32": {"finetune.lr": 0.001, "finetune.bf16": False, "finetune.dropout": 0.0},
}
NAME = re.compile(r"control-(?P<preset>.+)-(?P<recipe>defaults|lr[0-9.]+-fp32)-e(?P<epochs>\d+)-s(?P<seed>\d+)$")


def control_sets(arm_sets: dict, recipe: str, epochs: int, milestone: int, seed: int) -> dict:
    """The ``-S`` values of one control run: the ``random-init`` arm's, then the recipe's."""
    if not 0 < milestone < epochs:
        raise SystemExit(f"--milestone {milestone}: the lr drop must come after epoch 0 and before epoch {epochs}")
    return {**arm_sets, "finetune.epochs": epochs, "finetune.milestones": [milestone], "finetune.seed": seed,
            "finetune.crop_scale": [0.5, 1.0], "finetune.device": "cpu", **RECIPES[recipe]}


def run(preset_path: Path, recipe: str, epochs: int, milestone: int, seeds: list[int]) -> None:
    preset, params = load_preset(preset_path), bench_run.committed_params()
    arms = {(e.arm, e.seed): e for e in grid(preset, params)}
    with bench_run.experiments_in_workspace(preset):
        for seed in seeds:
            if ("random-init", seed) not in arms:
                raise SystemExit(f"{preset_path}: no random-init arm with seed {seed}")
            sets = control_sets(arms["random-init", seed].sets, recipe, epochs, milestone, seed)
            name = f"control-{preset.name}-{recipe}-e{epochs}-s{seed}"
            bench_run._git("checkout", "--", "params.yaml")  # each run from the committed values, as the grid's
            bench_run._dvc("exp", "run", "-n", name, *set_args(overrides(sets, params)), f"finetune@{preset.dataset}")


def rows(shown: list) -> list[list]:
    """One row per finished control experiment (the newest of each name), sorted."""
    newest = {r["name"]: r for r in experiment_rows(shown) if NAME.match(r["name"] or "")}
    out = []
    for name, r in newest.items():
        m = NAME.match(name)
        params = r["files"].get("params.yaml", {})
        dataset = lookup(params, "pretrain.data")
        metrics = r["files"].get(f"metrics/{dataset}/finetune.json", {})
        top1 = lookup(metrics, "single_view.video_top1", None)
        if top1 is None:
            continue
        family = lookup(params, f"datasets.{dataset}.family")
        out.append([m["preset"], family, m["recipe"], int(m["epochs"]), int(m["seed"]), lookup(params, "evaluation.split"),
                    float(top1), float(lookup(metrics, "final_train_loss"))])
    return sorted(out, key=lambda row: row[:5])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("run", "table"))
    ap.add_argument("--preset", type=Path, default=Path("benchmarks/relative.yaml"))
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="lr0.001-fp32")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--milestone", type=int, help="the epoch of the lr drop (default: three quarters of --epochs)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/positive_control.json"))
    args = ap.parse_args(argv)
    if args.command == "run":
        run(args.preset, args.recipe, args.epochs, args.milestone or args.epochs * 3 // 4, args.seeds)
        return
    table = rows(bench_run.exp_show())
    if not table:
        raise SystemExit("no finished control experiment in `dvc exp show`: run some first")
    write_table(args.json, ["preset", "family", "recipe", "epochs", "seed", "split", "video top-1 %", "final train loss"],
                table, f"python benchmarks/positive_control.py table --json {args.json}")
    print(f"wrote {args.json} ({len(table)} runs)")


if __name__ == "__main__":
    main()
