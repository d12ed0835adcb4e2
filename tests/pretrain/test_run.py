"""The pretrain stage on tiny real inputs: outputs, exact resume after a kill, and two processes."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from mscl.io.checkpoint import load_module_state, load_state
from mscl.models.r3d import R3D18

from tiny_pipeline import pretrain_args, tiny_params
from helpers import REPO, run_stage


def _curve(out):
    return pd.read_csv(out / "live/plots/metrics/train/loss.tsv", sep="\t")


def test_training_writes_encoder_sidecar_checkpoint_and_curves(pretrain_inputs, tmp_path):
    params = tiny_params(tmp_path / "params.yaml", {"pretrain": {"epochs": 1}})
    run_stage("pretrain", *pretrain_args(pretrain_inputs, params, tmp_path))
    state, sidecar = load_module_state(tmp_path / "model/encoder.pt")
    assert sidecar["backbone"] == "r3d_18" and sidecar["width"] == 4 and sidecar["method"] == "mscl"
    R3D18(width=sidecar["width"]).load_state_dict(state)  # rebuilt with a plain constructor
    assert load_state(tmp_path / "ckpt.pt")["step"] == 2
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["videos"] == 8 and set(metrics) >= {"rgb_moco", "lmcl", "loss", "lr"}
    # diagnostics: contrastive top-1 of every term (percent) and the kNN monitor at the last step
    assert {"top1_rgb_moco", "top1_lmcl", "top1_flow_rot_rgb"} <= set(metrics)
    assert all(0 <= metrics[k] <= 100 for k in metrics if k.startswith("top1_"))
    assert 0 <= metrics["knn_top1"] <= 100
    assert _curve(tmp_path)["step"].tolist() == [1, 2]
    for term in ("rgb_moco", "flow_rot_rgb", "lmcl", "lr", "clips_per_s", "top1_lmcl", "knn_top1"):
        assert (tmp_path / f"live/plots/metrics/train/{term}.tsv").exists()
    # killed after its final checkpoint (or rerun as is): nothing left to train, same report
    (tmp_path / "metrics.json").unlink()
    run_stage("pretrain", *pretrain_args(pretrain_inputs, params, tmp_path))
    again = json.loads((tmp_path / "metrics.json").read_text())
    assert again["resumed_from"] == 2 and again["loss"] == metrics["loss"]
    assert _curve(tmp_path)["step"].tolist() == [1, 2]


@pytest.mark.slow
def test_killed_run_resumes_the_same_loss_curve(pretrain_inputs, tmp_path):
    params = tiny_params(tmp_path / "params.yaml", {"pretrain": {"epochs": 4}})  # 8 steps, checkpoints every 2
    full, killed = tmp_path / "full", tmp_path / "killed"
    run_stage("pretrain", *pretrain_args(pretrain_inputs, params, full))
    cmd = [sys.executable, str(REPO / "stages/pretrain.py"), *map(str, pretrain_args(pretrain_inputs, params, killed))]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (killed / "ckpt.pt").exists() and load_state(killed / "ckpt.pt")["step"] >= 4:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = load_state(killed / "ckpt.pt")["step"]
    assert 2 <= stopped_at < 8 and not (killed / "metrics.json").exists(), "must be killed after a checkpoint"
    run_stage("pretrain", *pretrain_args(pretrain_inputs, params, killed))
    assert json.loads((killed / "metrics.json").read_text())["resumed_from"] == stopped_at
    a, b = _curve(full), _curve(killed)
    assert a["step"].tolist() == b["step"].tolist() == list(range(1, 9))
    assert a["loss"].tolist() == b["loss"].tolist()  # bit-identical on CPU
    wa, _ = load_module_state(full / "model/encoder.pt")
    wb, _ = load_module_state(killed / "model/encoder.pt")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(pretrain_inputs, tmp_path):
    # per-item augmentation in the workers and BatchNorm over the global batch make the runs equivalent
    same = {"epochs": 1, "gpu_augment": False, "sync_bn": True, "master_port": 29000 + os.getpid() % 1000}
    one = tiny_params(tmp_path / "one.yaml", {"pretrain": same})
    two = tiny_params(tmp_path / "two.yaml", {"pretrain": {**same, "gpus": 2}})
    run_stage("pretrain", *pretrain_args(pretrain_inputs, one, tmp_path / "one"))
    run_stage("pretrain", *pretrain_args(pretrain_inputs, two, tmp_path / "two"))
    a, b = _curve(tmp_path / "one"), _curve(tmp_path / "two")
    assert a["step"].tolist() == b["step"].tolist() == [1, 2]
    assert a["loss"].tolist() == pytest.approx(b["loss"].tolist(), rel=1e-4)
    wa, _ = load_module_state(tmp_path / "one/model/encoder.pt")
    wb, _ = load_module_state(tmp_path / "two/model/encoder.pt")
    assert all(torch.allclose(wa[k].float(), wb[k].float(), atol=1e-4) for k in wa)
