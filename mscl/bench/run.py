"""Running a grid: named DVC experiments in the workspace (or DVC's queue), the val phase first,
then the test phase once; the workspace is left as it was found."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from mscl.bench.grid import EVAL_SPLIT, Experiment, Preset, grid, overrides, select
from mscl.preset import set_args
from mscl.report import experiment_rows, lookup

# workspace paths an experiment run in place rewrites
WORKSPACE = ("params.yaml", "dvc.lock", "metrics", "logs", "dvclive")
COLUMNS = ("linear top-1", "retrieval R@1")  # what the tables show of each experiment


def shared_stages(dataset: str) -> tuple[str, ...]:
    """The stages every experiment of a grid on ``dataset`` shares (their outputs computed once)."""
    return f"index@{dataset}", f"frames@{dataset}", "flow", "screen"


def target_stages(dataset: str) -> tuple[str, ...]:
    """The stages an experiment asks for (pretraining runs as their dependency)."""
    return f"linear@{dataset}", f"retrieve@{dataset}"


def metric_files(dataset: str) -> list[tuple[str, str, str]]:
    """(column, metrics file, key) of :data:`COLUMNS`: what a finished experiment has."""
    return [(COLUMNS[0], f"metrics/{dataset}/linear.json", "video_top1"),
            (COLUMNS[1], f"metrics/{dataset}/retrieval.json", "R@1")]


def _dvc(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], check=check, text=True, capture_output=capture)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def exp_show() -> list:
    """``dvc exp show --json --all-commits``, parsed: a grid may span commits that changed nothing
    it measures (its keys say which experiments still count)."""
    return json.loads(_dvc("exp", "show", "--json", "--all-commits", capture=True).stdout)


def committed_params() -> dict:
    """The parsed ``params.yaml`` of HEAD: what every experiment key is computed over."""
    return yaml.safe_load(_git("show", "HEAD:params.yaml")) or {}


def finished(shown: list, dataset: str) -> dict[str, dict]:
    """{experiment name: its row (:func:`mscl.report.experiment_rows`)}: the newest experiment of
    each name, where it has every benchmark metric of ``dataset`` and is not queued or running (a
    running experiment's row shows the metrics left in the workspace by the one before it)."""
    busy = in_queue(shown)
    newest = {r["name"]: r for r in experiment_rows(shown)}  # rows come oldest first
    return {n: r for n, r in newest.items() if n not in busy
            and all(lookup(r["files"].get(file, {}), key, None) is not None for _, file, key in metric_files(dataset))}


def in_queue(shown: list) -> set[str]:
    """Names of the experiments of ``dvc exp show --json`` that DVC's queue has yet to finish."""
    return {e["name"] for commit in shown for e in commit.get("experiments") or []
            if e.get("name") and (e.get("executor") or {}).get("state") in ("queued", "running")}


def apply_sets(doc: dict, sets: dict) -> dict:
    """``doc`` (a parsed params file) with every ``{"a.b.c": value}`` of ``sets`` written into it."""
    for dotted, value in sets.items():
        *path, name = dotted.split(".")
        node = doc
        for key in path:
            node = node.setdefault(key, {})
        node[name] = value
    return doc


def reuse_shared_data(done: dict[str, dict], dataset: str) -> str | None:
    """Start from the shared outputs of the newest finished MSCL experiment that pretrained on
    ``dataset`` (the arm that computes flow): its dvc.lock and logs into the workspace, its shared
    outputs out of the DVC cache; where the cache lacks them, or the experiment ran other shared
    values or code, DVC recomputes what differs. Returns the experiment's name, or None when no
    finished experiment ran MSCL on ``dataset``."""
    def ran(r: dict, key: str):
        return lookup(r["files"].get("params.yaml", {}), key, None)

    mscl = [r for r in done.values() if ran(r, "pretrain.method") == "mscl" and ran(r, "pretrain.data") == dataset]
    if not mscl:
        return None
    source = max(mscl, key=lambda r: r["timestamp"])
    _git("restore", "--source", source["rev"], "--worktree", "--", "dvc.lock", "logs")
    _dvc("checkout", "--quiet", *shared_stages(dataset), check=False)
    return source["name"]


def compute_shared_data(experiment: Experiment, dataset: str) -> None:
    """Reproduce the shared stages in the workspace with ``experiment``'s values: afterwards
    dvc.lock and logs describe them and the DVC cache holds their outputs."""
    doc = apply_sets(yaml.safe_load(Path("params.yaml").read_text()), experiment.sets)
    Path("params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    _dvc("repro", shared_stages(dataset)[-1])  # and the stages before it
    _git("checkout", "--", "params.yaml")


def _check_clean() -> None:
    dirty = _git("status", "--porcelain", "--", *WORKSPACE).splitlines()
    if dirty:
        raise SystemExit("mscl.bench: commit or stash these first (the benchmark rewrites and then restores them):\n  "
                         + "\n  ".join(dirty))


def _restore_workspace() -> None:
    _git("checkout", "HEAD", "--", *WORKSPACE)
    _git("clean", "-fdq", "--", *WORKSPACE)
    _dvc("checkout", "--quiet", check=False)  # HEAD's outputs, where the cache has them


class _Times(dict):
    """{run name: wall seconds}, each entry added to the preset's times file as it is set: a runner
    killed outright keeps the times of the runs it finished. The file is tracked by git and not
    one of :data:`WORKSPACE`'s paths, so the experiments committed after the first carry it as it
    was then; nothing reads it from an experiment's commit."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def __setitem__(self, name: str, seconds: float) -> None:
        super().__setitem__(name, seconds)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old = json.loads(self.path.read_text()) if self.path.exists() else {}
        part = self.path.with_name(self.path.name + ".part")
        part.write_text(json.dumps(old | {name: seconds}, indent=1) + "\n")
        os.replace(part, self.path)  # a kill mid-write leaves the old file, not a truncated one


@contextlib.contextmanager
def experiments_in_workspace(preset: Preset):
    """For named experiments run in the workspace: refuses a workspace whose :data:`WORKSPACE`
    paths have changes, yields the dict the runs' wall times go into (written to the preset's
    times file as each run ends), and afterwards, whatever happened, gives the workspace back as
    HEAD has it."""
    _check_clean()
    try:
        yield _Times(preset.times)
    finally:
        _restore_workspace()


def _timed_run(step: str, name: str, sets: dict, dataset: str, times: dict, quiet: bool = False) -> None:
    """``dvc exp run`` of one experiment with the overrides ``sets`` (:func:`mscl.bench.grid.overrides`),
    timed; ``quiet`` keeps the stages' output (which names the scores) off the console unless the
    run fails: a test run's scores stay sealed in the log."""
    print(step, flush=True)
    start = time.perf_counter()
    args = ("exp", "run", "-n", name, *set_args(sets), *target_stages(dataset))
    done = _dvc(*args, check=not quiet, capture=quiet)
    if quiet and done.returncode:
        print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
        raise subprocess.CalledProcessError(done.returncode, done.args)
    times[name] = round(time.perf_counter() - start, 1)
    print(f"{step}: {times[name]:.0f} s", flush=True)


def recorded(preset: Preset) -> dict[str, dict]:
    """{experiment name: record} of the preset's committed results file (:mod:`mscl.bench.results`):
    experiments of another clone or an earlier checkout, whose DVC experiments this clone may not have. A record
    counts for the grid only while its name (with its key) is the grid's."""
    if not preset.results.exists():
        return {}
    return {r["name"]: r for r in json.loads(preset.results.read_text()).get("experiments", [])}


def _test_run(step: str, e: Experiment, rev: str, dataset: str, times: dict) -> None:
    """``e``'s encoder evaluated on the test split as ``e.test_name``: the val experiment's params
    and dvc.lock (its commit ``rev``) into the workspace and its pretraining and shared outputs out
    of the DVC cache, so that pretraining is found unchanged and only linear and retrieve run."""
    _git("restore", "--source", rev, "--worktree", "--", "params.yaml", "dvc.lock")
    _dvc("checkout", "--quiet", "pretrain", *shared_stages(dataset), check=False)
    _timed_run(step, e.test_name, {EVAL_SPLIT: "test"}, dataset, times, quiet=True)
    # dvc.lock stays: it holds the shared stages, which the next experiment finds unchanged
    _git("checkout", "HEAD", "--", "params.yaml")


def run(preset: Preset, arms: list[str] | None = None, seeds: list[int] | None = None, queue: bool = False) -> None:
    """Run the grid's missing experiments (of ``arms`` and ``seeds``, default all) one by one in
    the workspace, seed by seed: each pretrains and is scored on val, then its encoder is scored on test at once
    (the encoder exists only now; the test tables stay sealed until the whole grid has them). With
    ``queue``, the val experiments go through DVC's queue and ``run_test`` scores test afterwards.
    An experiment recorded with both splits in the committed results (from another clone) is done."""
    queued = []
    with experiments_in_workspace(preset) as times:
        params = committed_params()
        everything = grid(preset, params)
        # seed by seed, each seed's arms in file order: a grid cut short has whole seeds, which pair
        experiments = sorted(select(everything, arms, seeds), key=lambda e: e.seed)
        shown = exp_show()
        done, waiting, kept = finished(shown, preset.dataset), in_queue(shown), recorded(preset)
        complete = {n for n, r in kept.items() if r.get("val") and r.get("test")}
        on_head = {r["name"] for r in experiment_rows(shown) if r["baseline"] == _git("rev-parse", "HEAD").strip()}
        todo = [e for e in experiments if e.name not in complete and e.name not in waiting
                and not (e.name in done and (queue or e.test_name in done))]
        # any finished MSCL experiment on the dataset will do, the grid's own or one under an older
        # key or another name (a tuning run): DVC recomputes whatever shared stage it ran differently.
        # Without it every shared stage would run again (their logs are not cached, so DVC's run
        # cache cannot restore them), the videos included
        reused = reuse_shared_data(done, preset.dataset) if todo else None
        if reused:
            print(f"shared data: the outputs of {reused}, where the DVC cache has them", flush=True)
        elif todo and queue:  # queued experiments run from a copy of the workspace: give it the shared data
            first = next((e for e in everything if e.sets.get("pretrain.method") == "mscl"), todo[0])
            print(f"shared data: computing it with the values of {first.name}", flush=True)
            compute_shared_data(first, preset.dataset)
        for i, e in enumerate(experiments):
            step = f"[{i + 1}/{len(experiments)}] {e.name}"
            if e not in todo:
                print(f"{step}: {'already in the queue' if e.name in waiting else 'done'}, skipped")
                continue
            if e.name not in done:
                if e.name in on_head:  # an unfinished experiment of this commit holds the name
                    _dvc("exp", "remove", e.name)
                # `dvc exp run` leaves the experiment's params.yaml in the workspace and -S edits that
                # file: start from the committed one, or an arm's values (e.g. a loss weight of 0) leak
                # into the next arm. dvc.lock stays, so the shared stages are still found unchanged.
                _git("checkout", "--", "params.yaml")
                if queue:
                    _dvc("exp", "run", "--queue", "-n", e.name, *set_args(overrides(e.sets, params)),
                         *target_stages(preset.dataset))
                    queued.append(e.name)
                    print(f"{step}: queued", flush=True)
                    continue
                _timed_run(step, e.name, overrides(e.sets, params), preset.dataset, times)
                done = finished(exp_show(), preset.dataset)  # its commit
            _test_run(f"{step} (test)", e, done[e.name]["rev"], preset.dataset, times)
    if queued:
        _dvc("queue", "start", "--jobs", "1")
        print(f"{len(queued)} experiments queued, one DVC queue worker runs them in the background: follow it with "
              f"`dvc queue status` (and `dvc queue logs NAME`), then `python -m mscl.bench test --preset "
              f"{preset.path}` and `report`", flush=True)


def run_test(preset: Preset) -> None:
    """Score test with every finished val experiment of the grid that has no test run yet (after
    ``run --queue``); the test tables stay sealed until the whole grid has them."""
    with experiments_in_workspace(preset) as times:
        experiments = grid(preset, committed_params())
        done = finished(exp_show(), preset.dataset)
        for i, e in enumerate(experiments):
            step = f"[{i + 1}/{len(experiments)}] {e.test_name}"
            if e.name not in done or e.test_name in done:
                print(f"{step}: {'no val experiment' if e.name not in done else 'done'}, skipped")
                continue
            _test_run(step, e, done[e.name]["rev"], preset.dataset, times)
