import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mscl import bench
from mscl.bench import END, START, collect, current, finished, grid, replace_between, select, summary_table

from helpers import REPO, copy_project, project_env
from tiny_pipeline import PROJECT, tiny_params

PRESET = {
    "params": {"pretrain": {"seed": "{seed}", "epochs": 5, "crop_scale": [0.2, 1.0]}, "flow": {"splits": ["train"]}},
    "seeds": [0, 1],
    "arms": {"mscl": {"pretrain.method": "mscl"}, "random": {"evaluation.init": "random", "pretrain.epochs": 1}},
}


def test_grid_applies_base_then_arm_values_and_the_seed():
    exps = grid(PRESET)
    assert [e.name for e in exps] == ["bench-mscl-s0", "bench-mscl-s1", "bench-random-s0", "bench-random-s1"]
    assert exps[1].sets == {"pretrain.seed": 1, "pretrain.epochs": 5, "pretrain.crop_scale": [0.2, 1.0],
                            "flow.splits": ["train"], "pretrain.method": "mscl"}
    assert exps[2].sets["pretrain.epochs"] == 1 and exps[2].sets["evaluation.init"] == "random"


def test_select_runs_part_of_the_grid_and_rejects_names_it_lacks():
    exps = grid(PRESET)
    assert [e.name for e in select(exps, ["random"], [1])] == ["bench-random-s1"]
    assert [e.name for e in select(exps, seeds=[0])] == ["bench-mscl-s0", "bench-random-s0"]
    assert select(exps) == exps
    with pytest.raises(ValueError, match=r"no arm \['moco'\]"):
        select(exps, ["moco"])
    with pytest.raises(ValueError, match=r"no seed \[2\]"):
        select(exps, seeds=[2])
    with pytest.raises(ValueError, match="no arms"):
        grid({"params": {}})


def test_table_means_sds_and_per_seed_values():
    exps = grid(PRESET)
    (_, linear, _), (_, retrieval, _) = bench.METRICS
    files = lambda top1, r1: {linear: {"video_top1": top1}, retrieval: {"R@1": r1},
                              "metrics/pretrain.json": {"knn_top1": 20.0}}
    done = {n: {"files": f} for n, f in {"bench-mscl-s0": files(40.0, 30.0), "bench-mscl-s1": files(50.0, 34.0),
                                         "bench-random-s0": files(12.0, 11.0)}.items()}
    records = collect(exps, done, {"bench-mscl-s0": 70.0})
    assert [r["name"] for r in records] == ["bench-mscl-s0", "bench-mscl-s1", "bench-random-s0"]
    assert records[0]["experiment seconds"] == 70.0 and records[1]["experiment seconds"] is None
    assert records[0]["knn top-1"] == 20.0 and "pretrain seconds" not in records[0]
    lines = summary_table(records, ["mscl", "random"]).splitlines()
    assert lines[2] == "| mscl | 0,1 | 45.0 +- 7.1 | 32.0 +- 2.8 | 40.0, 50.0 | 30.0, 34.0 |"
    assert lines[3] == "| random | 0 | 12.0 | 11.0 | 12.0 | 11.0 |"  # one seed: a mean without a spread


def test_readme_markers():
    assert replace_between(f"a\n{START}\nold\n{END}\nb", "new") == f"a\n{START}\nnew\n{END}\nb"
    with pytest.raises(ValueError, match="markers"):
        replace_between("no markers", "x")


def test_the_shipped_preset_is_a_valid_grid():
    from mscl.params import load_section  # every value must pass the params validation
    import tempfile
    from pathlib import Path

    preset = yaml.safe_load((REPO / "benchmarks/motion.yaml").read_text())
    exps = grid(preset)
    assert len(preset["seeds"]) >= 3 and {"mscl-paper", "mscl-released", "moco-rgb", "random-init"} <= set(preset["arms"])
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    for e in exps:
        doc = copy.deepcopy(base)
        for key, value in e.sets.items():
            *path, name = key.split(".")  # datasets.motion.seed: a key of a named dataset
            node = doc
            for part in path:
                node = node[part]
            node[name] = value
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "params.yaml"
            path.write_text(yaml.safe_dump(doc))
            for section in doc:
                load_section(path, section)
    # statistical power: at least 8 classes (the synthetic set has 8) and 200 test videos
    p = preset["params"]["datasets"][bench.DATASET]
    assert p["videos_per_class"] * 8 * p["test_fraction"] >= 200


def test_run_starts_every_experiment_from_the_committed_params(tmp_path, monkeypatch):
    # dvc exp run leaves the experiment's params.yaml behind; the next experiment must not inherit it
    _repo(tmp_path, monkeypatch)
    Path("preset.yaml").write_text(yaml.safe_dump({"params": {"pretrain": {"seed": "{seed}"}}, "seeds": [0],
                                                   "arms": PRESET["arms"]}))
    seen = {}

    def fake_dvc(*args, check=True, capture=False):  # what dvc does to params.yaml, nothing else
        if args[:2] == ("exp", "run"):
            doc = yaml.safe_load(Path("params.yaml").read_text())
            seen[args[3]] = copy.deepcopy(doc)
            for flag, s in zip(args[4::2], args[5::2]):
                if flag == "-S":
                    key, value = s.split("=", 1)
                    section, name = key.split(".")
                    doc[section][name] = yaml.safe_load(value)
            Path("params.yaml").write_text(yaml.safe_dump(doc))
        return subprocess.CompletedProcess(args, 0, stdout="[]")

    monkeypatch.setattr(bench, "_dvc", fake_dvc)
    bench.run(Path("preset.yaml"))
    assert seen["bench-mscl-s0"]["pretrain"]["epochs"] == 5
    assert seen["bench-random-s0"]["evaluation"]["init"] == "pretrained"  # the mscl arm's run left no trace
    assert seen["bench-random-s0"]["pretrain"] == {"seed": 0, "epochs": 5}
    assert yaml.safe_load(Path("params.yaml").read_text())["pretrain"]["epochs"] == 5  # restored at the end


def _shown(baseline, *exps):
    """``dvc exp show --json`` of experiments (name, rev, timestamp, params, top-1) from one baseline."""
    def node(name, rev, ts, params, top1):
        (_, linear, _), (_, retrieval, _) = bench.METRICS
        metrics = {linear: {"data": {"video_top1": top1}}, retrieval: {"data": {"R@1": 9.0}}}
        return {"rev": rev, "name": name, "data": {"timestamp": ts, "params": {"params.yaml": {"data": params}},
                                                   "metrics": metrics}}
    return [{"rev": baseline, "name": None, "data": {}, "experiments": [{"revs": [node(*e)]} for e in exps]}]


def test_finished_experiments_that_ran_other_values_are_stale():
    exps = grid(PRESET)
    mscl0 = {"pretrain": {"seed": 0, "epochs": 5, "crop_scale": [0.2, 1.0], "method": "mscl"}, "flow": {"splits": ["train"]}}
    old = {**mscl0, "pretrain": {**mscl0["pretrain"], "epochs": 3}}
    shown = _shown("c1", ("bench-mscl-s0", "a", "2026-01-01", old, 10.0), ("bench-mscl-s0", "b", "2026-01-02", mscl0, 20.0),
                   ("bench-mscl-s1", "c", "2026-01-03", {**mscl0, "pretrain": {**mscl0["pretrain"], "seed": 0}}, 30.0))
    done = finished(shown)
    assert done["bench-mscl-s0"]["rev"] == "b"  # the newest of a name
    assert list(current(exps, done)) == ["bench-mscl-s0"]  # s1 ran seed 0: not what the grid asks of it


def test_experiments_the_queue_has_yet_to_finish():
    def exp(name, state):
        return {"name": name, "executor": {"state": state, "name": "dvc-task"}, "revs": []}
    shown = [{"rev": "c1", "experiments": [exp("a", "queued"), exp("b", "running"), exp("c", "success"), exp("d", "failed"),
                                            {"name": "e", "executor": None, "revs": []}]},
             {"rev": "c0", "experiments": None}]
    assert bench.in_queue(shown) == {"a", "b"}


def _repo(tmp_path, monkeypatch):
    """A git repository (the working directory) with the benchmark's workspace paths committed."""
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    Path("params.yaml").write_text(yaml.safe_dump({"pretrain": {"seed": 0, "epochs": 5}, "evaluation": {"init": "pretrained"}}))
    for d in ("metrics", "logs", "dvclive"):
        Path(d).mkdir()
        Path(d, "keep").write_text("")
    Path("dvc.lock").write_text("")
    subprocess.run(["git", "add", "."], check=True)
    subprocess.run(["git", "commit", "-qm", "init"], check=True, env=project_env())


def test_run_reuses_the_shared_data_of_a_finished_experiment_and_reruns_a_stale_one(tmp_path, monkeypatch):
    _repo(tmp_path, monkeypatch)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    # an earlier experiment's commit: its dvc.lock and logs describe the shared outputs it computed
    subprocess.run(["git", "checkout", "-qb", "exp"], check=True)
    Path("dvc.lock").write_text("the shared stages of bench-mscl-s0\n")
    Path("logs/flow.json").write_text("{}")
    subprocess.run(["git", "add", "."], check=True)
    subprocess.run(["git", "commit", "-qm", "exp"], check=True, env=project_env())
    exp_rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "checkout", "-q", "-"], check=True)
    Path("preset.yaml").write_text(yaml.safe_dump(PRESET))
    ran = {"bench-mscl-s0": {"pretrain": {"seed": 0, "epochs": 5, "crop_scale": [0.2, 1.0], "method": "mscl"},
                             "flow": {"splits": ["train"]}},
           "bench-random-s0": {"pretrain": {"seed": 0, "epochs": 5}, "evaluation": {"init": "random"}}}  # epochs 1 now
    shown = _shown(head, ("bench-mscl-s0", exp_rev, "2026-01-01", ran["bench-mscl-s0"], 30.0),
                   ("bench-random-s0", "r", "2026-01-02", ran["bench-random-s0"], 12.0))
    calls = []

    def fake_dvc(*args, check=True, capture=False):
        calls.append((args, Path("dvc.lock").read_text()))
        return subprocess.CompletedProcess(args, 0, stdout=json.dumps(shown) if args[:2] == ("exp", "show") else "")

    monkeypatch.setattr(bench, "_dvc", fake_dvc)
    bench.run(Path("preset.yaml"), seeds=[0])
    commands = [" ".join(a[:3]) for a, _ in calls]
    assert commands == ["exp show --json", f"checkout --quiet {bench.SHARED[0]}", "exp remove bench-random-s0",
                        "exp run -n", "checkout --quiet"]
    assert calls[1][0][2:] == bench.SHARED
    assert calls[3][0][3] == "bench-random-s0" and calls[3][1] == "the shared stages of bench-mscl-s0\n"
    assert Path("dvc.lock").read_text() == "" and not Path("logs/flow.json").exists()  # the workspace as found
    status = subprocess.run(["git", "status", "--porcelain", "--", *bench.WORKSPACE], capture_output=True, text=True)
    assert status.stdout == ""
    assert list(json.loads(bench.RESULTS.with_name("motion_times.json").read_text())) == ["bench-random-s0"]


@pytest.mark.slow
def test_the_queue_runs_the_grid_in_the_background_on_shared_data_computed_once(tmp_path):
    """Real DVC on a tiny project: `run --queue` computes the shared stages, the queued experiments
    find them unchanged, and a second invocation has nothing left to queue."""
    copy_project(tmp_path)
    tiny_params(tmp_path / "params.yaml", PROJECT)
    preset = {"params": {"pretrain": {"seed": "{seed}", "method": "mscl"}, "datasets": {bench.DATASET: {"seed": 1}}},
              "seeds": [0, 1],
              "arms": {"mscl": {}}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(preset))
    git = ["git", "-C", str(tmp_path)]
    subprocess.run([*git, "add", "-A"], check=True, env=project_env())
    subprocess.run([*git, "commit", "-qm", "tiny"], check=True, env=project_env())

    def call(*args: str) -> str:
        r = subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, env=project_env())
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    out = call("-m", "mscl.bench", "run", "--queue", "--preset", "tiny.yaml")
    assert "computing it with the values of bench-mscl-s0" in out and out.count(": queued") == 2, out
    for _ in range(300):  # the worker runs them one after the other
        shown = json.loads(call("-m", "dvc", "exp", "show", "--json", "--all-commits"))
        if not bench.in_queue(shown):
            break
        time.sleep(2)
    assert set(finished(shown)) == {"bench-mscl-s0", "bench-mscl-s1"}, call("-m", "dvc", "queue", "status")
    for name in ("bench-mscl-s0", "bench-mscl-s1"):
        log = call("-m", "dvc", "queue", "logs", name)
        for stage in bench.SHARED:
            assert f"Stage '{stage}' didn't change" in log, log
        assert "Running stage 'pretrain'" in log and f"Running stage '{bench.TARGETS[-1]}'" in log
    assert subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True).stdout == ""
    again = call("-m", "mscl.bench", "run", "--queue", "--preset", "tiny.yaml")
    assert "queued" not in again and again.count("done, skipped") == 2, again
    table = call("-m", "mscl.bench", "report", "--preset", "tiny.yaml")
    assert "| mscl | 0,1 |" in table
