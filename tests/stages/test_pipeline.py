"""The whole pipeline through real DVC on tiny data: `dvc repro`, then nothing to redo."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import copy_project, project_env
from tiny_pipeline import PROJECT, tiny_params


def _dvc(dst: Path, *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=dst, capture_output=True, text=True, env=project_env())
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _git(dst: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=dst, capture_output=True, text=True, check=True, env=project_env()).stdout


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """A fresh project on tiny params after its first `dvc repro` (and that command's output)."""
    root = tmp_path_factory.mktemp("a")
    copy_project(root)
    tiny_params(root / "params.yaml", PROJECT)
    return root, _dvc(root, "repro")


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_then_nothing(reproduced):
    root, out = reproduced
    # the demo's datasets: motion pretrains and is evaluated, relative is evaluated
    for stage in ("index@motion", "frames@motion", "index@relative", "frames@relative", "flow", "screen", "pretrain",
                  "finetune@motion", "linear@motion", "retrieve@motion", "finetune@relative", "linear@relative",
                  "retrieve@relative"):
        assert f"Running stage '{stage}'" in out
    for path in ("models/pretrain/encoder.pt", "models/pretrain/encoder.json", "reports/motion/flow",
                 "reports/motion/screen/scores.png", "reports/relative/finetune/confusion.png",
                 "reports/motion/retrieve/neighbours.png", "dvclive/pretrain/plots/metrics/train/loss.tsv",
                 "dvclive/relative/finetune/plots/metrics/train/loss.tsv", "models/motion/finetune/classifier.pt"):
        assert (root / path).exists(), path
    assert not (root / "data/relative/flow").exists()  # flow is the pretraining set's only
    assert "R@1" in _dvc(root, "metrics", "show")
    for dataset in ("motion", "relative"):
        retrieval = json.loads((root / f"metrics/{dataset}/retrieval.json").read_text())
        assert set(retrieval) >= {"R@1", "R@5", "R@10", "R@20", "R@50"}
    again = _dvc(root, "repro")
    assert "Running stage" not in again and "didn't change" in again


@pytest.mark.slow
def test_a_teammate_pulls_everything_and_recomputes_nothing(reproduced, tmp_path):
    """Clone A pushes to a directory remote and a bare git origin; clone B pulls and is done."""
    a, _ = reproduced
    origin, remote, b = tmp_path / "origin.git", tmp_path / "dvc-remote", tmp_path / "b"
    _git(tmp_path, "init", "-q", "--bare", str(origin))
    _dvc(a, "remote", "add", "-d", "team", str(remote))
    _git(a, "add", "-A")
    _git(a, "commit", "-qm", "results")
    _git(a, "remote", "add", "origin", str(origin))
    _git(a, "push", "-q", "origin", "HEAD:main")
    _dvc(a, "push")
    # an experiment on this commit, then a newer commit: the experiment is based on an older one
    _dvc(a, "exp", "run", "-n", "short-probe", "-S", "linear.epochs=1")
    # compared at a glance: only what differs from the baseline (the param and linear's metrics)
    shown = _dvc(a, "exp", "show", "--csv", "--only-changed", "--sort-by", "metrics/motion/linear.json:video_top1")
    header = shown.splitlines()[0].split(",")
    assert "linear.epochs" in header and len(header) < 20 and "pretrain.lr" not in header, header
    # a later commit adds an evaluation set: its own stages run, nothing else
    doc = yaml.safe_load((a / "params.yaml").read_text())
    doc["datasets"]["motion_s2"] = {**doc["datasets"]["relative"], "seed": 2}
    doc["evaluation"]["datasets"].append("motion_s2")
    (a / "params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    added = _dvc(a, "repro")
    assert set(re.findall(r"Running stage '([^']+)'", added)) == {
        f"{s}@motion_s2" for s in ("index", "frames", "finetune", "linear", "retrieve")}, added
    _git(a, "add", "-A")
    _git(a, "commit", "-qm", "later: a third evaluation set")
    _git(a, "push", "-q", "origin", "HEAD:main")
    _dvc(a, "push")
    _dvc(a, "exp", "push", "origin", "short-probe")

    _git(tmp_path, "clone", "-q", "-b", "main", str(origin), str(b))
    _dvc(b, "pull")
    status = _dvc(b, "status")
    assert "Data and pipelines are up to date" in status, status
    again = _dvc(b, "repro")
    assert "Running stage" not in again and "didn't change" in again, again
    for path in ("models/pretrain/encoder.pt", "reports/motion/finetune/confusion.png",
                 "reports/motion_s2/retrieve/neighbours.png", "reports/motion/screen/scores.png",
                 "dvclive/pretrain/plots/metrics/train/loss.tsv", "metrics/motion_s2/linear.json"):
        assert (b / path).read_bytes() == (a / path).read_bytes(), path
    # without --all-commits, `exp pull` looks only at experiments of B's HEAD: "No experiments to pull"
    assert "No experiments to pull" in _dvc(b, "exp", "pull", "origin")
    _dvc(b, "exp", "pull", "--all-commits", "origin")
    shown = _dvc(b, "exp", "show", "--all-commits", "--csv")
    assert any(row.startswith("short-probe,") for row in shown.splitlines()), shown


@pytest.mark.slow
def test_a_dclr_experiment_computes_no_flow_and_gives_a_full_row(reproduced):
    root, _ = reproduced
    out = _dvc(root, "exp", "run", "--temp", "-n", "dclr-r2p1", "-S", "pretrain.method=dclr",
               "-S", "pretrain.backbone=r2plus1d_18")
    assert "pretrain.method dclr reads no flow; nothing computed" in out
    assert "screen: no flow to screen" in out
    rows = {r["Experiment"]: r for r in __import__("csv").DictReader(_dvc(root, "exp", "show", "--csv").splitlines())}
    row = rows["dclr-r2p1"]
    assert row["pretrain.method"] == "dclr" and row["pretrain.backbone"] == "r2plus1d_18"
    for column in ("dclr_vv", "top1_dclr_dv", "video_top1", "R@1"):
        found = [k for k in row if k.split(":")[-1] == column or k == column]
        assert found and all(row[k] not in ("", "-") for k in found), (column, sorted(row))
