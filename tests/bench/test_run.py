"""Running a grid: fresh params per experiment, shared data reused, the test phase once, the queue."""
import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mscl.bench import run as bench_run
from mscl.bench.grid import grid, load_preset
from mscl.bench.run import apply_sets, finished, in_queue

from bench.test_grid import PRESET
from helpers import copy_project, project_env
from tiny_pipeline import PROJECT, tiny_params

PARAMS = {"pretrain": {"seed": 0, "epochs": 5}, "evaluation": {"init": "pretrained", "split": "test"}}


def _repo(tmp_path, monkeypatch):
    """A git repository (the working directory) with the benchmark's workspace paths committed."""
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    Path("params.yaml").write_text(yaml.safe_dump(PARAMS))
    for d in ("metrics", "logs", "dvclive"):
        Path(d).mkdir()
        Path(d, "keep").write_text("")
    Path("dvc.lock").write_text("")
    Path("tiny.yaml").write_text(yaml.safe_dump(PRESET))
    _commit("init")
    return load_preset("tiny.yaml")


def _commit(message):
    subprocess.run(["git", "add", "."], check=True)
    subprocess.run(["git", "commit", "-qm", message], check=True, env=project_env())
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def _shown(baseline, *exps):
    """``dvc exp show --json`` of experiments (name, rev, timestamp, params, top-1) from one baseline."""
    def node(name, rev, ts, params, top1):
        metrics = {"metrics/motion/linear.json": {"data": {"video_top1": top1}},
                   "metrics/motion/retrieval.json": {"data": {"R@1": 9.0}}}
        return {"rev": rev, "name": name, "data": {"timestamp": ts, "params": {"params.yaml": {"data": params}},
                                                   "metrics": metrics}}
    return [{"rev": baseline, "name": None, "data": {}, "experiments": [{"revs": [node(*e)]} for e in exps]}]


def _head() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def _fake_dvc(shown, calls, seen=None):
    """What dvc does to the workspace's params.yaml (exp run -S edits it) and to `exp show` (a run
    experiment is listed, at the workspace's commit), nothing else."""
    shown = shown or [{"rev": "c", "name": None, "data": {}, "experiments": []}]

    def fake(*args, check=True, capture=False):
        calls.append((args, Path("dvc.lock").read_text()))
        if args[:2] == ("exp", "run"):
            doc = yaml.safe_load(Path("params.yaml").read_text())
            name = args[args.index("-n") + 1]
            if "--queue" not in args:
                shown[0]["experiments"] += _shown("c", (name, _head(), "2026-03-01", {}, 1.0))[0]["experiments"]
            if seen is not None:
                seen[name] = copy.deepcopy(doc)
            sets = dict(s.split("=", 1) for f, s in zip(args, args[1:]) if f == "-S")
            Path("params.yaml").write_text(yaml.safe_dump(apply_sets(doc, {k: yaml.safe_load(v) for k, v in sets.items()})))
        return subprocess.CompletedProcess(args, 0, stdout=json.dumps(shown) if args[:2] == ("exp", "show") else "")
    return fake


def test_run_starts_every_experiment_from_the_committed_params(tmp_path, monkeypatch):
    # dvc exp run leaves the experiment's params.yaml behind; the next experiment must not inherit it
    preset = _repo(tmp_path, monkeypatch)
    seen, calls = {}, []
    monkeypatch.setattr(bench_run, "_dvc", _fake_dvc([], calls, seen))
    bench_run.run(preset, seeds=[0])
    mscl0, random0 = grid(preset, PARAMS)[0], grid(preset, PARAMS)[2]
    assert seen[mscl0.name]["pretrain"]["epochs"] == 5
    assert seen[random0.name]["evaluation"]["init"] == "pretrained"  # the mscl arm's run left no trace
    assert seen[random0.name]["pretrain"] == {"seed": 0, "epochs": 5}
    assert yaml.safe_load(Path("params.yaml").read_text()) == PARAMS  # restored at the end
    # each val experiment is followed at once by its test run (the encoder exists only then)
    assert list(json.loads(preset.times.read_text())) == [mscl0.name, mscl0.test_name, random0.name, random0.test_name]


def test_a_runner_killed_mid_grid_keeps_the_times_of_the_runs_it_finished(tmp_path, monkeypatch):
    # the times file is written as each run ends, not when the runner exits: SIGKILL skips any cleanup
    preset = _repo(tmp_path, monkeypatch)
    mscl0, random0 = grid(preset, PARAMS)[0], grid(preset, PARAMS)[2]
    calls, on_disk = [], {}
    fake = _fake_dvc([], calls)

    def dvc(*args, **kw):
        if args[:2] == ("exp", "run") and args[3] == random0.name:
            on_disk.update(json.loads(preset.times.read_text()))
            raise KeyboardInterrupt  # stands in for the kill: nothing after this line of the runner runs
        return fake(*args, **kw)
    monkeypatch.setattr(bench_run, "_dvc", dvc)
    with pytest.raises(KeyboardInterrupt):
        bench_run.run(preset, seeds=[0])
    assert list(on_disk) == [mscl0.name, mscl0.test_name]
    assert not preset.times.with_name(preset.times.name + ".part").exists()


def test_run_goes_seed_by_seed_so_a_grid_cut_short_has_whole_seeds(tmp_path, monkeypatch):
    preset = _repo(tmp_path, monkeypatch)
    monkeypatch.setattr(bench_run, "_dvc", _fake_dvc([], []))
    bench_run.run(preset)
    names = {e.name: (e.seed, e.arm) for e in grid(preset, PARAMS)}
    assert [names[n] for n in json.loads(preset.times.read_text()) if n in names] == sorted(names.values())


def test_run_reuses_the_shared_data_of_a_finished_experiment_and_skips_only_current_ones(tmp_path, monkeypatch):
    preset = _repo(tmp_path, monkeypatch)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    mscl0, _, random0, _ = grid(preset, PARAMS)
    # an earlier experiment's commit: its dvc.lock and logs describe the shared outputs it computed
    subprocess.run(["git", "checkout", "-qb", "exp"], check=True)
    Path("dvc.lock").write_text(f"the shared stages of {mscl0.name}\n")
    Path("logs/flow.json").write_text("{}")
    exp_rev = _commit("exp")
    subprocess.run(["git", "checkout", "-q", "-"], check=True)
    shown = _shown(head, (mscl0.name, exp_rev, "2026-01-01", {"pretrain": {"method": "mscl", "data": "motion"}}, 30.0),
                   ("tiny-random-s0-0ldc0de5", "r", "2026-01-02", {}, 12.0))  # another key: stale, not skipped
    calls = []
    monkeypatch.setattr(bench_run, "_dvc", _fake_dvc(shown, calls))
    bench_run.run(preset, seeds=[0])
    commands = [" ".join(a[:3]) for a, _ in calls]
    # mscl0 has its val experiment: only its test run; random0 (another key in the shown one) runs both
    assert commands == ["exp show --json", "checkout --quiet index@motion", "checkout --quiet pretrain", "exp run -n",
                        "exp run -n", "exp show --json", "checkout --quiet pretrain", "exp run -n", "checkout --quiet"]
    assert calls[1][0][2:] == ("index@motion", "frames@motion", "flow", "screen")
    assert calls[3][0][3] == mscl0.test_name
    assert calls[4][0][3] == random0.name and calls[4][1] == f"the shared stages of {mscl0.name}\n"
    assert Path("dvc.lock").read_text() == "" and not Path("logs/flow.json").exists()  # the workspace as found
    status = subprocess.run(["git", "status", "--porcelain", "--", *bench_run.WORKSPACE], capture_output=True, text=True)
    assert status.stdout == ""


def test_shared_data_come_from_the_newest_mscl_experiment_on_the_dataset_whatever_its_name(monkeypatch):
    """An experiment under an older key or of a tuning run pretrained on the same data just as well
    (DVC recomputes what it ran differently); one that pretrained on another dataset does not count."""
    def row(name, ts, method, data):
        return {"name": name, "rev": f"rev-{name}", "timestamp": ts,
                "files": {"params.yaml": {"pretrain": {"method": method, "data": data}}}}

    done = {r["name"]: r for r in (row("tiny-mscl-s0-0ldkey00", "2026-01-01", "mscl", "motion"),
                                   row("tune-mscl-lr", "2026-01-02", "mscl", "motion"),
                                   row("tiny-moco-s0-abc", "2026-01-03", "moco", "motion"),
                                   row("demo-mscl", "2026-01-04", "mscl", "relative"))}
    git, dvc = [], []
    monkeypatch.setattr(bench_run, "_git", lambda *a: git.append(a) or "")
    monkeypatch.setattr(bench_run, "_dvc", lambda *a, **k: dvc.append(a))
    assert bench_run.reuse_shared_data(done, "motion") == "tune-mscl-lr"
    assert git == [("restore", "--source", "rev-tune-mscl-lr", "--worktree", "--", "dvc.lock", "logs")]
    assert bench_run.reuse_shared_data({"x": done["tiny-moco-s0-abc"]}, "motion") is None


def test_test_runs_score_each_val_experiment_once_and_recorded_experiments_are_done(tmp_path, monkeypatch):
    preset = _repo(tmp_path, monkeypatch)
    exps = grid(preset, PARAMS)
    rows = [(e.name, _head(), f"2026-01-0{i + 1}", {}, 20.0) for i, e in enumerate(exps[:3])]
    done_test = (exps[0].test_name, _head(), "2026-02-01", {}, 18.0)
    calls, quiet = [], {}
    fake = _fake_dvc(_shown("c", *rows, done_test), calls)

    def recording(*args, check=True, capture=False):
        if args[:2] == ("exp", "run"):
            quiet[args[3]] = capture and not check
        return fake(*args, check=check, capture=capture)
    monkeypatch.setattr(bench_run, "_dvc", recording)
    bench_run.run_test(preset)  # after `run --queue`: the val experiments without a test run
    ran = [a for a, _ in calls if a[:2] == ("exp", "run")]
    assert [a[3] for a in ran] == [e.test_name for e in exps[1:3]]
    assert quiet == {e.test_name: True for e in exps[1:3]}  # test scores stay off the console
    assert all(a[4:8] == ("-S", "evaluation.split=test", "linear@motion", "retrieve@motion") for a in ran)
    assert yaml.safe_load(Path("params.yaml").read_text()) == PARAMS
    # an experiment of another clone, recorded with both splits in the committed results, is done;
    # one recorded with val only is run again (its encoder is gone with that clone)
    preset.results.parent.mkdir(parents=True, exist_ok=True)
    both, val_only = {"val": {"x": 1.0}, "test": {"x": 1.0}}, {"val": {"x": 1.0}, "test": None}
    preset.results.write_text(json.dumps({"experiments": [{"name": exps[3].name, **both},
                                                          {"name": exps[2].name, **val_only}]}))
    _commit("results")
    calls.clear()
    monkeypatch.setattr(bench_run, "_dvc", _fake_dvc([], calls))
    bench_run.run(preset)
    by_seed = sorted(exps[:3], key=lambda e: e.seed)
    assert [a[3] for a, _ in calls if a[:2] == ("exp", "run")] == [n for e in by_seed for n in (e.name, e.test_name)]


def test_finished_needs_every_metric_and_the_queue_state_is_read():
    shown = _shown("c", ("a", "r1", "2026-01-01", {}, 10.0), ("a", "r2", "2026-01-02", {}, 20.0))
    shown[0]["experiments"].append({"revs": [{"rev": "r3", "name": "b", "data": {"timestamp": "x", "metrics": {}}}]})
    done = finished(shown, "motion")
    assert list(done) == ["a"] and done["a"]["rev"] == "r2"  # the newest of a name; b has no metrics
    running = _shown("c", ("c", "r4", "2026-01-03", {}, 30.0))
    running[0]["experiments"][0] |= {"name": "c", "executor": {"state": "running", "name": "workspace"}}
    assert list(finished(running, "motion")) == []  # its metrics are the workspace's, from the run before

    def exp(name, state):
        return {"name": name, "executor": {"state": state, "name": "dvc-task"}, "revs": []}
    queue = [{"rev": "c1", "experiments": [exp("a", "queued"), exp("b", "running"), exp("c", "success"),
                                           {"name": "e", "executor": None, "revs": []}]}, {"rev": "c0", "experiments": None}]
    assert in_queue(queue) == {"a", "b"}


def test_apply_sets_writes_dotted_keys_at_any_depth():
    doc = apply_sets({"a": {"b": 1}}, {"a.c": 2, "d.e.f": [1, 2]})
    assert doc == {"a": {"b": 1, "c": 2}, "d": {"e": {"f": [1, 2]}}}


@pytest.mark.slow
def test_the_queue_runs_the_grid_in_the_background_on_shared_data_computed_once(tmp_path):
    """Real DVC on a tiny project: `run --queue` computes the shared stages, the queued experiments
    find them unchanged, and a second invocation has nothing left to queue."""
    copy_project(tmp_path)
    tiny_params(tmp_path / "params.yaml", PROJECT)
    doc = {"version": 1, "dataset": "motion", "seeds": [0, 1], "arms": {"mscl": {}},
           "params": {"pretrain": {"seed": "{seed}", "method": "mscl"}, "datasets": {"motion": {"seed": 1}}}}
    (tmp_path / "benchmarks/tiny.yaml").write_text(yaml.safe_dump(doc))
    git = ["git", "-C", str(tmp_path)]
    subprocess.run([*git, "add", "-A"], check=True, env=project_env())
    subprocess.run([*git, "commit", "-qm", "tiny"], check=True, env=project_env())

    def call(*args: str) -> str:
        r = subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, env=project_env())
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    out = call("-m", "mscl.bench", "run", "--queue", "--preset", "benchmarks/tiny.yaml")
    assert "computing it with the values of tiny-mscl-s0-" in out and out.count(": queued") == 2, out
    for _ in range(300):  # the worker runs them one after the other
        shown = json.loads(call("-m", "dvc", "exp", "show", "--json", "--all-commits"))
        if not in_queue(shown):
            break
        time.sleep(2)
    names = set(finished(shown, "motion"))
    assert len(names) == 2 and all(n.startswith("tiny-mscl-s") for n in names), call("-m", "dvc", "queue", "status")
    for name in names:
        log = call("-m", "dvc", "queue", "logs", name)
        for stage in bench_run.shared_stages("motion"):
            assert f"Stage '{stage}' didn't change" in log, log
        assert "Running stage 'pretrain'" in log and "Running stage 'retrieve@motion'" in log
    assert subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True).stdout == ""
    again = call("-m", "mscl.bench", "run", "--queue", "--preset", "benchmarks/tiny.yaml")
    assert "queued" not in again and again.count("done, skipped") == 2, again
    tested = call("-m", "mscl.bench", "test", "--preset", "benchmarks/tiny.yaml")  # each encoder on test
    assert tested.count("-test: ") == 2, tested
    table = call("-m", "mscl.bench", "report", "--preset", "benchmarks/tiny.yaml")
    val, test = table.split("test:\n")
    assert "| mscl | 0,1 |" in val and "| mscl | 0,1 |" in test, table  # the grid is complete: test unsealed
