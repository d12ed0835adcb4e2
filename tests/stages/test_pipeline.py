"""The whole pipeline through real DVC on tiny data: `dvc repro`, then nothing to redo."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO
from tiny_pipeline import TINY

DOWNSTREAM = {"device": "cpu", "workers": 0, "num_frames": 4, "crop_size": 16, "batch_size": 4}


def _copy_project(dst: Path) -> None:
    """The tracked files of the project (what a clone has), as a fresh git repository."""
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dst / f)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(cmd, cwd=dst, check=True)


def _dvc(dst: Path, *args: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=dst, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_then_nothing(tmp_path):
    _copy_project(tmp_path)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section].update(values)
    params["pretrain"].update(epochs=1)
    params["finetune"].update(DOWNSTREAM, test_crop_size=16, test_clips=1, test_crops=1, epochs=1, milestones=[1])
    params["linear"].update(DOWNSTREAM, epochs=2, probe_batch=4)
    params["retrieve"].update(DOWNSTREAM, queries=2, shown=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    out = _dvc(tmp_path, "repro")
    for stage in ("index", "frames", "flow", "screen", "pretrain", "finetune", "linear", "retrieve"):
        assert f"Running stage '{stage}'" in out
    for path in ("models/pretrain/encoder.pt", "models/pretrain/encoder.json", "reports/flow", "reports/screen/scores.png",
                 "reports/finetune/confusion.png", "reports/retrieve/neighbours.png", "dvclive/pretrain/plots/metrics/train/loss.tsv"):
        assert (tmp_path / path).exists(), path
    assert "R@1" in _dvc(tmp_path, "metrics", "show")
    retrieval = json.loads((tmp_path / "metrics/retrieval.json").read_text())
    assert set(retrieval) >= {"R@1", "R@5", "R@10", "R@20", "R@50"}
    again = _dvc(tmp_path, "repro")
    assert "Running stage" not in again and "didn't change" in again
