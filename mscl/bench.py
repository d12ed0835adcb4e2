"""The motion benchmark: a grid of named DVC experiments from one preset file, and its table.

``python -m mscl.bench run`` (``make bench``) runs, one after the other in the workspace,
``dvc exp run -n bench-<arm>-s<seed> -S ... linear@motion retrieve@motion`` for every arm and seed
of ``benchmarks/motion.yaml``: the first experiment computes the shared index, frames, flow and
screen outputs, the others find them unchanged. It is resumable: an experiment (of any commit)
that has its metrics and ran with the values the preset now gives it is skipped, one that ran
with other values is run again, an interrupted pretraining resumes from its checkpoint, and a
new invocation takes the shared outputs of a finished MSCL experiment back out of the DVC cache
instead of recomputing them. It needs
``params.yaml``, ``dvc.lock``, ``metrics/``, ``logs/`` and ``dvclive/`` without uncommitted
changes and restores them (and DVC's outputs) at the end, so the workspace is left as it was found.
``--arms`` and ``--seeds`` run part of the grid (one arm, one seed: one experiment).

``python -m mscl.bench run --queue`` hands the grid to DVC's experiment queue instead: it puts
the shared outputs in place first (those of a finished MSCL experiment, or computed now with
``dvc repro screen``), so that every queued experiment finds them unchanged in its dvc.lock and
takes them from the cache, queues the missing and stale experiments (not those already queued or
running) and starts one queue worker (``dvc queue start``), which runs them one after the other
in the background; ``dvc queue status`` follows them. A queued experiment that fails starts from
scratch when queued again (its checkpoint stays in the worker's temporary copy).

``python -m mscl.bench report`` collects the experiments from ``dvc exp show --json --all-commits``
(the newest of each name) and writes
``benchmarks/results/motion.json`` and the README table (mean +- sd over seeds, and per seed).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from mscl.preset import set_args
from mscl.report import experiment_rows, flatten, lookup, replace_between_markers

PRESET = Path("benchmarks/motion.yaml")
RESULTS = Path("benchmarks/results/motion.json")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
DATASET = "motion"  # the named dataset (params.yaml) the grid pretrains and evaluates on
TARGETS = (f"linear@{DATASET}", f"retrieve@{DATASET}")
# the stages every experiment of the grid shares (their outputs are computed once)
SHARED = (f"index@{DATASET}", f"frames@{DATASET}", "flow", "screen")
# workspace paths an experiment run in place rewrites
WORKSPACE = ("params.yaml", "dvc.lock", "metrics", "logs", "dvclive")
# (column, metrics file, key)
METRICS = [("linear top-1", f"metrics/{DATASET}/linear.json", "video_top1"),
           ("retrieval R@1", f"metrics/{DATASET}/retrieval.json", "R@1")]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One cell of the grid: its DVC experiment name and every param it sets (dotted keys)."""

    name: str
    arm: str
    seed: int
    sets: dict


def _with_seed(value, seed: int):
    return seed if value == "{seed}" else value


def grid(preset: dict) -> list[Experiment]:
    """Every (arm, seed) of the preset, arms in file order, seeds inner."""
    base = flatten(preset.get("params") or {})
    out = []
    for arm, own in (preset.get("arms") or {}).items():
        for seed in preset.get("seeds") or [0]:
            sets = {k: _with_seed(v, seed) for k, v in {**base, **(own or {})}.items()}
            out.append(Experiment(f"bench-{arm}-s{seed}", arm, int(seed), sets))
    if not out:
        raise ValueError("the benchmark preset lists no arms")
    return out


def select(experiments: list[Experiment], arms: list[str] | None = None, seeds: list[int] | None = None) -> list[Experiment]:
    """The experiments of the named arms and seeds (None or empty: all); a name the grid lacks is an error."""
    for what, asked, known in (("arm", arms, {e.arm for e in experiments}), ("seed", seeds, {e.seed for e in experiments})):
        unknown = set(asked or ()) - known
        if unknown:
            raise ValueError(f"the benchmark preset has no {what} {sorted(unknown)}; it has {sorted(known)}")
    return [e for e in experiments if (not arms or e.arm in arms) and (not seeds or e.seed in seeds)]


# --------------------------------------------------------------------------- running


def _dvc(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], check=check, text=True,
                          capture_output=capture)


def finished(exp_show: list) -> dict[str, dict]:
    """{experiment name: its row (:func:`mscl.report.experiment_rows`)}: the newest experiment of
    each name, where it has every benchmark metric."""
    newest = {r["name"]: r for r in experiment_rows(exp_show)}  # rows come oldest first
    return {n: r for n, r in newest.items()
            if all(lookup(r["files"].get(file, {}), key, None) is not None for _, file, key in METRICS)}


_MISSING = object()


def _param(row: dict, dotted: str, default=_MISSING):
    """The value of a param (``"section.name"``) an experiment row ran with, or ``default``."""
    return lookup(row["files"].get("params.yaml", {}), dotted, default)


def current(experiments: list[Experiment], done: dict[str, dict]) -> dict[str, dict]:
    """The finished experiments (``done``, from :func:`finished`) of the grid that ran with every
    value the grid now sets for them: after the preset changes, an experiment of the old values is
    stale (``run`` runs it again, ``report`` leaves it out)."""
    return {e.name: done[e.name] for e in experiments if e.name in done
            and all(_param(done[e.name], k) == v for k, v in e.sets.items())}


def _exp_show(*flags: str) -> list:
    """``dvc exp show --json`` with ``flags``, parsed."""
    return json.loads(_dvc("exp", "show", "--json", *flags, capture=True).stdout)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def _dirty() -> list[str]:
    return _git("status", "--porcelain", "--", *WORKSPACE).splitlines()


def reuse_shared_data(done: dict[str, dict]) -> str | None:
    """Start from the shared outputs of the newest finished MSCL experiment (the arm that computes
    flow): its dvc.lock and logs into the workspace, its index, frames, flow and screen outputs out
    of the DVC cache. An interrupted or extended grid then does not recompute them; where the cache
    lacks them, or the experiment ran other shared values or code, DVC recomputes what differs.

    Returns:
        the name of the experiment reused, or None when no finished experiment ran MSCL.
    """
    mscl = [r for r in done.values() if _param(r, "pretrain.method") == "mscl"]
    if not mscl:
        return None
    source = max(mscl, key=lambda r: r["timestamp"])
    _git("restore", "--source", source["rev"], "--worktree", "--", "dvc.lock", "logs")
    _dvc("checkout", "--quiet", *SHARED, check=False)
    return source["name"]


def compute_shared_data(experiment: Experiment) -> None:
    """Reproduce the shared stages in the workspace with ``experiment``'s values: afterwards
    dvc.lock and logs describe them and the DVC cache holds their outputs."""
    doc = yaml.safe_load(Path("params.yaml").read_text())
    for dotted, value in experiment.sets.items():
        *path, name = dotted.split(".")  # datasets.motion.seed: a key of a named dataset
        node = doc
        for key in path:
            node = node.setdefault(key, {})
        node[name] = value
    Path("params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    _dvc("repro", SHARED[-1])  # and the stages before it
    _git("checkout", "--", "params.yaml")


def in_queue(exp_show: list) -> set[str]:
    """Names of the experiments of ``dvc exp show --json`` that DVC's queue has yet to finish
    (queued or running)."""
    return {e["name"] for commit in exp_show for e in commit.get("experiments") or []
            if e.get("name") and (e.get("executor") or {}).get("state") in ("queued", "running")}


def _restore_workspace() -> None:
    _git("checkout", "HEAD", "--", *WORKSPACE)
    _git("clean", "-fdq", "--", *WORKSPACE)
    _dvc("checkout", "--quiet", check=False)  # HEAD's outputs, where the cache has them


def run(preset_path: Path = PRESET, arms: list[str] | None = None, seeds: list[int] | None = None,
        queue: bool = False) -> None:
    """Run the grid's missing or stale experiments (of ``arms`` and ``seeds``, default all) one by
    one in the workspace, or with ``queue`` through DVC's queue (see the module docstring)."""
    dirty = _dirty()
    if dirty:
        raise SystemExit("mscl.bench: commit or stash these first (the benchmark rewrites and then restores them):\n  "
                         + "\n  ".join(dirty))
    everything = grid(yaml.safe_load(preset_path.read_text()))
    experiments = select(everything, arms, seeds)
    shown = _exp_show("--all-commits")
    done = current(everything, finished(shown))  # of any commit: run reads what report reads
    head = _git("rev-parse", "HEAD").strip()
    on_head = {r["name"] for r in experiment_rows(shown) if r["baseline"] == head}
    waiting = in_queue(shown)
    todo = [e for e in experiments if e.name not in done and e.name not in waiting]
    times, queued = {}, []
    try:
        reused = reuse_shared_data(done) if todo else None
        if reused:
            print(f"shared data: the outputs of {reused}, where the DVC cache has them", flush=True)
        elif todo and queue:  # queued experiments run from a copy of the workspace: give it the shared data
            first = next((e for e in everything if e.sets.get("pretrain.method") == "mscl"), todo[0])
            print(f"shared data: computing it with the values of {first.name}", flush=True)
            compute_shared_data(first)
        for i, e in enumerate(experiments):
            step = f"[{i + 1}/{len(experiments)}] {e.name}"
            if e.name in done or e.name in waiting:
                print(f"{step}: {'done' if e.name in done else 'already in the queue'}, skipped")
                continue
            if e.name in on_head:  # ran with other values from this commit: its name is taken
                print(f"{step}: stale (the preset changed), removed")
                _dvc("exp", "remove", e.name)
            # `dvc exp run` leaves the experiment's params.yaml in the workspace and -S edits that
            # file: start from the committed one, or an arm's values (e.g. a loss weight of 0) leak
            # into the next arm. dvc.lock stays, so the shared stages are still found unchanged.
            _git("checkout", "--", "params.yaml")
            if queue:
                _dvc("exp", "run", "--queue", "-n", e.name, *set_args(e.sets), *TARGETS)
                queued.append(e.name)
                print(f"{step}: queued", flush=True)
                continue
            print(step, flush=True)
            start = time.perf_counter()
            _dvc("exp", "run", "-n", e.name, *set_args(e.sets), *TARGETS)
            times[e.name] = round(time.perf_counter() - start, 1)
            print(f"{step}: {times[e.name]:.0f} s", flush=True)
    finally:
        _restore_workspace()
        if times:
            log = RESULTS.with_name("motion_times.json")
            log.parent.mkdir(parents=True, exist_ok=True)
            old = json.loads(log.read_text()) if log.exists() else {}
            log.write_text(json.dumps(old | times, indent=1) + "\n")
    if queued:
        _dvc("queue", "start", "--jobs", "1")
        print(f"{len(queued)} experiments queued, one DVC queue worker runs them in the background: follow it with "
              "`dvc queue status` (and `dvc queue logs NAME`), then `python -m mscl.bench report`", flush=True)


# --------------------------------------------------------------------------- the table


def collect(experiments: list[Experiment], done: dict[str, dict], times: dict[str, float]) -> list[dict]:
    """One record per finished experiment of the grid: arm, seed, metrics, kNN top-1 and the
    experiment's wall time (from ``motion_times.json``; metrics files hold no timings)."""
    out = []
    for e in experiments:
        if e.name not in done:
            continue
        files = done[e.name]["files"]
        rec = {"name": e.name, "arm": e.arm, "seed": e.seed}
        rec |= {col: float(lookup(files.get(file, {}), key)) for col, file, key in METRICS}
        rec["knn top-1"] = lookup(files.get("metrics/pretrain.json", {}), "knn_top1", None)
        rec["experiment seconds"] = times.get(e.name)
        out.append(rec)
    return out


def summary_table(records: list[dict], arms: list[str]) -> str:
    """Markdown: per arm, mean +- sd over seeds of each metric, and the per-seed values."""
    cols = [c for c, _, _ in METRICS]
    lines = ["| arm | seeds | " + " | ".join(f"{c} (mean +- sd)" for c in cols) + " | " + " | ".join(f"{c} per seed" for c in cols)
             + " |", "|---" * (2 + 2 * len(cols)) + "|"]
    for arm in arms:
        rows = sorted((r for r in records if r["arm"] == arm), key=lambda r: r["seed"])
        if not rows:
            continue
        cells = []
        for c in cols:
            vals = [r[c] for r in rows]
            sd = f" +- {statistics.stdev(vals):.1f}" if len(vals) > 1 else ""  # one seed: no spread to show
            cells.append(f"{statistics.mean(vals):.1f}{sd}")
        per_seed = [", ".join(f"{r[c]:.1f}" for r in rows) for c in cols]
        lines.append(f"| {arm} | {','.join(str(r['seed']) for r in rows)} | " + " | ".join(cells + per_seed) + " |")
    return "\n".join(lines)


def replace_between(text: str, table: str) -> str:
    """``text`` with the benchmark table between its README markers replaced by ``table``."""
    return replace_between_markers(text, table, START, END)


def report(preset_path: Path = PRESET, readme: Path = Path("README.md")) -> str:
    preset = yaml.safe_load(preset_path.read_text())
    experiments = grid(preset)
    # every commit's experiments (the newest of each name wins): the grid may span commits that
    # changed nothing it measures, e.g. a table written after the README around it was edited
    done = finished(_exp_show("--all-commits"))
    fresh = current(experiments, done)
    stale = sorted(set(done) & {e.name for e in experiments} - set(fresh))
    if stale:
        print(f"left out, run with other values than the preset's (mscl.bench run reruns them): {', '.join(stale)}",
              file=sys.stderr)
    times_file = RESULTS.with_name("motion_times.json")
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    records = collect(experiments, fresh, times)
    table = summary_table(records, list(preset["arms"]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"preset": str(preset_path), "experiments": records}, indent=1) + "\n")
    readme.write_text(replace_between(readme.read_text(), table))
    return table


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("run", "report"))
    ap.add_argument("--preset", type=Path, default=PRESET)
    ap.add_argument("--arms", nargs="+", metavar="ARM", help="run: only these arms (default: every arm)")
    ap.add_argument("--seeds", nargs="+", type=int, metavar="SEED", help="run: only these seeds (default: every seed)")
    ap.add_argument("--queue", action="store_true", help="run: through DVC's experiment queue, in the background")
    args = ap.parse_args()
    if args.command == "run":
        run(args.preset, args.arms, args.seeds, args.queue)
    else:
        print(report(args.preset))
