"""benchmarks/device.sh, the one-call GPU check, through its CPU path at tiny sizes.

The GPU machine has no OpenCV, PyAV or DVC: the second run blocks those modules and expects every
number but the loader-fed one (JPEG containers need OpenCV), which must say why it is missing.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BLOCKED = ("cv2", "av", "dvc", "dvclive")
# (part, numbers it must hold): every number of a tiny run (compile off on CPU)
NUMBERS = {
    "flow.reference": ("pairs", "epe_true_object"),
    "flow.opencv": ("pairs_per_s", "epe_opencv_mean", "epe_opencv_p95", "epe_opencv_interior"),
    "flow.eager": ("pairs_per_s", "warmup_s", "epe_opencv_mean", "epe_opencv_p95", "epe_opencv_interior",
                   "epe_true_object"),
    "pretrain.backbone": ("clips_per_s", "warmup_s"),
    "pretrain.mscl_synthetic": ("clips_per_s", "warmup_s", "of_backbone"),
    "pretrain.mscl_loader": ("clips_per_s", "warmup_s", "of_synthetic"),
}


def run_tiny(out: Path, *, pythonpath: str = "", env_out: bool = False) -> dict:
    """Run ``device.sh --cpu --tiny`` and return its JSON, written to ``out`` (a folder passed as
    $OUT, as on the GPU machine, when ``env_out``); ``pythonpath`` goes first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env.update(PYTHON=sys.executable, PYTHONPATH=os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")])))
    args = ["bash", "benchmarks/device.sh", "--cpu", "--tiny"]
    if env_out:
        out.mkdir()
        env["OUT"] = str(out)
        out = out / "device.json"
    else:
        args += ["--out", str(out)]
    res = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(out.read_text())


def check_numbers(data: dict, parts: dict) -> None:
    for key, names in parts.items():
        head, leaf = key.split(".")
        assert leaf in data[head], f"{key} missing; skipped: {data['skipped']}"
        for name in names:
            value = data[head][leaf][name]
            assert isinstance(value, (int, float)) and math.isfinite(value), (key, name, value)
    assert all(math.isfinite(s) and s >= 0 for s in data["seconds"].values())
    assert data["device"]["type"] == "cpu" and data["settings"]["tiny"]


@pytest.mark.slow
def test_cpu_fallback_writes_every_number(tmp_path):
    data = run_tiny(tmp_path / "device.json")
    check_numbers(data, NUMBERS)
    assert data["skipped"] == {"flow.compiled": "compile off"}
    # a changed generator needs new references: python benchmarks/device.py make-reference
    assert data["flow"]["reference"]["frames_identical"]
    assert data["flow"]["opencv"]["epe_opencv_mean"] < 0.02  # the stored reference is OpenCV's (1/128 px steps)
    assert data["flow"]["eager"]["epe_opencv_interior"] < 0.25  # the torch backend still follows OpenCV


@pytest.mark.slow
def test_gpu_path_needs_no_opencv_pyav_or_dvc(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    # imported at start-up: every import of a blocked module raises ImportError
    (site / "sitecustomize.py").write_text(f"import sys\nfor m in {BLOCKED!r}:\n    sys.modules[m] = None\n")
    data = run_tiny(tmp_path / "out", pythonpath=str(site), env_out=True)
    assert [f.name for f in (tmp_path / "out").iterdir()] == ["device.json"]
    assert data["device"]["opencv"] is None
    check_numbers(data, {k: v for k, v in NUMBERS.items() if k not in ("flow.opencv", "pretrain.mscl_loader")})
    assert set(data["skipped"]) == {"flow.compiled", "flow.opencv", "pretrain.mscl_loader"}
    assert "cv2 not importable" in data["skipped"]["pretrain.mscl_loader"]
