"""Training progress: a progress bar with clips/s and ETA, and dvclive curves of every term.

dvclive's step is the global training step, so a resumed run continues the same curves: rows
logged after the checkpoint it resumes from (by the killed run) are dropped first.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import torch
from tqdm import tqdm

from mscl import dist


def truncate_curves(live_dir: Path, start: int) -> None:
    """Drop rows with ``step > start`` (logged after the checkpoint of step ``start``) from
    every dvclive metric file under ``live_dir``."""
    for tsv in Path(live_dir).glob("plots/metrics/**/*.tsv"):
        with open(tsv, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if not rows:
            continue
        with open(tsv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
            writer.writeheader()
            writer.writerows(r for r in rows if int(r["step"]) <= start)


class TrainLog:
    """Running means of the loss terms, averaged over processes and logged every ``log_every`` steps."""

    def __init__(self, live_dir: str | Path, *, total: int, start: int, log_every: int, last: dict | None = None):
        self.log_every, self.total, self.main = log_every, total, dist.is_main()
        self.sums, self.count, self.last = defaultdict(float), 0, dict(last or {})
        self.extra = {k: v for k, v in self.last.items() if k.startswith("knn")}  # logged by log_value
        self.replaced_total = float(self.last.get("replaced_samples", 0.0))  # over the whole run, resumed or not
        self.live, self.bar = None, None
        if self.main:
            from dvclive import Live

            if start:
                truncate_curves(Path(live_dir), start)
            else:
                import shutil

                shutil.rmtree(live_dir, ignore_errors=True)
            self.live = Live(str(live_dir), resume=start > 0, save_dvc_exp=False, dvcyaml=False)
            self.bar = tqdm(total=total, initial=start, desc="pretrain", unit="step", dynamic_ncols=True)

    def step(self, step: int, losses: dict[str, torch.Tensor], *, lr: float, clips_per_s: float, replaced: int,
             top1: dict[str, torch.Tensor] | None = None) -> None:
        """Account one finished step; log the means of the last ``log_every`` steps when due.

        ``top1``: each term's contrastive top-1 of this step, logged in percent as ``top1_<term>``.
        """
        values = {name: value.item() for name, value in losses.items()}
        for name, value in values.items():
            self.sums[name] += value
        for name, value in (top1 or {}).items():
            self.sums[f"top1_{name}"] += 100.0 * float(value)
        self.sums["loss"] += sum(values.values())
        self.sums["clips_per_s"] += clips_per_s
        self.sums["replaced_samples"] += replaced
        self.count += 1
        if self.bar is not None:
            self.bar.update()
            self.bar.set_postfix(loss=f"{sum(values.values()):.3f}", clips_s=f"{clips_per_s:.1f}")
        if step % self.log_every == 0 or step == self.total:  # the last step always reports
            self._log(step, lr)

    def _log(self, step: int, lr: float) -> None:
        names = sorted(self.sums)
        means = torch.tensor([self.sums[n] / self.count for n in names], dtype=torch.float64)
        if dist.world_size() > 1:  # every process reaches this at the same steps
            torch.distributed.all_reduce(means)
            means /= dist.world_size()
        self.last = {n: float(v) for n, v in zip(names, means)} | {"lr": float(lr), "step": step}
        self.last["replaced_samples"] *= dist.world_size() * self.count  # the window's total, not a mean
        self.replaced_total += self.last["replaced_samples"]
        self.sums, self.count = defaultdict(float), 0
        if self.live is not None:
            self.live.step = step
            for name, value in self.last.items():
                if name != "step":
                    self.live.log_metric(f"train/{name}", value)

    def log_value(self, step: int, name: str, value: float) -> None:
        """Log one value computed on the main process alone (e.g. the kNN monitor) at ``step``."""
        self.extra[name] = value
        if self.live is not None:
            self.live.step = step
            self.live.log_metric(f"train/{name}", value)

    def flush(self, step: int) -> None:
        """Write dvclive's summary (at checkpoints and at the end)."""
        if self.live is not None:
            self.live.make_summary()

    def summary(self) -> dict:
        """The last logged values (averaged over processes); ``replaced_samples`` counts every
        replacement of the run (the curve shows them per logging window)."""
        return self.last | self.extra | {"replaced_samples": self.replaced_total}

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.live is not None:
            self.live.end()
