"""The pretrain stage on tiny real inputs: outputs, exact resume after a kill, and two processes."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from mscl.downstream.features import load_encoder
from mscl.io.checkpoint import load_module_state, load_state
from mscl.models.r3d import R3D18
from mscl.pipeline.cli import to_argv
from mscl.pipeline.pretrain import flow_pairing

from tiny_pipeline import make_inputs, pretrain_paths, tiny_params
from helpers import REPO, run_stage, write_test_flow


def _curve(out):
    return pd.read_csv(out / "live/plots/metrics/train/loss.tsv", sep="\t")


@pytest.mark.slow
def test_training_writes_encoder_sidecar_curves_and_metrics(pretrain_inputs, tmp_path):
    params = tiny_params(tmp_path / "params.yaml", {"pretrain": {"epochs": 1}})
    done = run_stage("pretrain", params, **pretrain_paths(pretrain_inputs, tmp_path))
    assert "2 steps on 8 videos (resumed from step 0)" in done.stdout
    state, sidecar = load_module_state(tmp_path / "model/encoder.pt")
    assert sidecar["backbone"] == "r3d_18" and sidecar["width"] == 4 and sidecar["method"] == "mscl"
    R3D18(width=sidecar["width"]).load_state_dict(state)  # rebuilt with a plain constructor
    assert not (tmp_path / "model.partial").exists()  # the working folder goes once the run is published
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) >= {"rgb_moco", "lmcl", "loss", "replaced_samples"} and "clips_per_s" not in metrics
    assert not set(metrics) & {"steps", "seconds", "videos", "resumed_from", "lr"}  # bookkeeping is printed, not compared
    # diagnostics: contrastive top-1 of every term (percent) and the kNN monitor at the last step
    assert {"top1_rgb_moco", "top1_lmcl", "top1_flow_rot_rgb"} <= set(metrics)
    assert all(0 <= metrics[k] <= 100 for k in metrics if k.startswith("top1_"))
    assert 0 <= metrics["knn_top1"] <= 100 and 0 <= metrics["knn_flow_top1"] <= 100  # the val videos' flow
    assert _curve(tmp_path)["step"].tolist() == [1, 2]
    knn = pd.read_csv(tmp_path / "live/plots/metrics/train/knn_top1.tsv", sep="\t")
    assert knn["step"].tolist() == [0, 2]  # the random initialisation before the first step, then the end
    for term in ("rgb_moco", "flow_rot_rgb", "lmcl", "lr", "clips_per_s", "top1_lmcl", "knn_top1", "knn_flow_top1"):
        assert (tmp_path / f"live/plots/metrics/train/{term}.tsv").exists()
    # a rerun of a finished run (`dvc repro -f pretrain`) trains afresh, to the same result on CPU
    again = run_stage("pretrain", params, **pretrain_paths(pretrain_inputs, tmp_path))
    assert "(resumed from step 0)" in again.stdout
    assert json.loads((tmp_path / "metrics.json").read_text())["loss"] == metrics["loss"]
    assert _curve(tmp_path)["step"].tolist() == [1, 2]


@pytest.mark.slow
def test_dclr_reads_no_flow_and_its_r2plus1d_encoder_loads_downstream(pretrain_inputs, tmp_path):
    # with BatchNorm over sub-batches: the saved encoder is still a plain one; `backbone` is MSCL's
    params = tiny_params(tmp_path / "params.yaml", {"pretrain": {"epochs": 1, "method": "dclr", "backbone": "r3d_18",
                                                                 "dclr_backbone": "r2plus1d_10", "knn_every": 2,
                                                                 "bn_splits": 2}})
    paths = pretrain_paths(pretrain_inputs, tmp_path)
    # neither exists: neither is read
    paths |= {"flow_dir": tmp_path / "no-flow", "samples_csv": tmp_path / "no-samples.csv"}
    done = run_stage("pretrain", params, **paths)
    assert "pretrain (dclr): 2 steps on 8 videos" in done.stdout
    encoder, sidecar = load_encoder(tmp_path / "model/encoder.pt", init="pretrained")  # strict: no missing keys
    assert sidecar["backbone"] == "r2plus1d_10" and sidecar["method"] == "dclr" and type(encoder).__name__ == "R2Plus1D10"
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    terms = ("dclr_vv", "dclr_vs", "dclr_sv", "dclr_vd", "dclr_dv")
    assert set(metrics) >= {*terms, *(f"top1_{t}" for t in terms), "loss", "knn_top1"}
    assert not {"rgb_moco", "lmcl", "knn_flow_top1"} & set(metrics)


def _snapshot(out):
    return {str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*")) if f.is_file() and "partial" not in str(f)}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["mscl", "dclr"])
def test_killed_rerun_keeps_the_old_outputs_and_resumes_the_same_run(pretrain_inputs, tmp_path, method):
    # 8 steps, 2 per epoch, checkpoints at steps 3 and 6: the kill lands mid-epoch
    params = tiny_params(tmp_path / "params.yaml", {"pretrain": {"epochs": 4, "checkpoint_every": 3, "method": method}})
    out = tmp_path / "out"
    run_stage("pretrain", params, **pretrain_paths(pretrain_inputs, out))
    finished = _snapshot(out)
    checkpoint = out / "model.partial/checkpoint.pt"
    cmd = [sys.executable, str(REPO / "stages/pretrain.py"), *to_argv(params, pretrain_paths(pretrain_inputs, out))]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # a forced rerun
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists() and load_state(checkpoint)["step"] >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = load_state(checkpoint)["step"]
    assert stopped_at in (3, 6), "must be killed after a checkpoint, before the end"
    assert _snapshot(out) == finished  # encoder, curves and metrics of the finished run are intact
    resumed = run_stage("pretrain", params, **pretrain_paths(pretrain_inputs, out))
    assert f"(resumed from step {stopped_at})" in resumed.stdout
    assert _curve(out)["step"].tolist() == list(range(1, 9))  # whole curves, the killed run's steps included
    after = _snapshot(out)
    assert after.keys() == finished.keys()
    # bit-identical on CPU: curves (but throughput), encoder and metrics (but throughput)
    for name in after:
        if name.endswith(".tsv") and "clips_per_s" not in name or name.startswith("model/"):
            assert after[name] == finished[name], name
    before, now = (json.loads(x["metrics.json"]) for x in (finished, after))
    assert {k: v for k, v in now.items() if k != "clips_per_s"} == {k: v for k, v in before.items() if k != "clips_per_s"}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["mscl", "dclr"])
def test_two_gloo_processes_match_one_process(pretrain_inputs, tmp_path, method):
    # per-item augmentation in the workers and BatchNorm over the global batch make the runs equivalent
    same = {"epochs": 1, "gpu_augment": False, "sync_bn": True, "bn_splits": 1, "master_port": 29000 + os.getpid() % 1000,
            "method": method}
    one = tiny_params(tmp_path / "one.yaml", {"pretrain": same})
    two = tiny_params(tmp_path / "two.yaml", {"pretrain": {**same, "gpus": 2}})
    run_stage("pretrain", one, **pretrain_paths(pretrain_inputs, tmp_path / "one"))
    run_stage("pretrain", two, **pretrain_paths(pretrain_inputs, tmp_path / "two"))
    a, b = _curve(tmp_path / "one"), _curve(tmp_path / "two")
    assert a["step"].tolist() == b["step"].tolist() == [1, 2]
    assert a["loss"].tolist() == pytest.approx(b["loss"].tolist(), rel=1e-4)
    wa, _ = load_module_state(tmp_path / "one/model/encoder.pt")
    wb, _ = load_module_state(tmp_path / "two/model/encoder.pt")
    assert all(torch.allclose(wa[k].float(), wb[k].float(), atol=1e-4) for k in wa)


def test_flow_pairing_is_read_from_the_flow_containers(tmp_path):
    write_test_flow(tmp_path / "a.zip", np.zeros((3, 8, 8, 2), np.float32))  # stored with offset 8, step 2
    manifest = pd.DataFrame({"video_id": ["gone", "a"], "flow": ["", "a.zip"], "status": ["too_short", "ok"]})
    assert flow_pairing(tmp_path, manifest) == (8, 2)
    with pytest.raises(RuntimeError, match="rerun the flow stage"):
        flow_pairing(tmp_path, manifest.iloc[:1])


# An easy variant of the motion benchmark (benchmarks/motion.yaml) at a fraction of its size: the
# same lessons (2-frame flow, paper layout without rotated-flow positives and RGB MoCo, no flip)
# on 64 x 80 videos, a width-8 R3D-18 and 32 px crops. The regression test that MSCL still learns.
EASY = {
    # 5 train videos per class to learn from and 5 val videos the monitors classify (no test split)
    "datasets": {"motion": {"videos_per_class": 10, "num_frames": 16, "height": 64, "width": 80, "speed": 2.0,
                            "test_fraction": 0.0, "val_fraction": 0.5}},
    "frames": {"short_side": 64, "min_frames": 8},
    "flow": {"offset": 2, "step": 2, "scales": 5, "warps": 5, "outer_iterations": 10, "inner_iterations": 30,
             "splits": ["train", "val"]},
    "screen": {"clip_len": 4, "block": 16},
    "pretrain": {"method": "mscl", "flow_layout": "paper", "rgb_moco_weight": 0.0, "rgb_flow_rot_weight": 0.0,
                 "flow_rot_rgb_weight": 0.0, "flip_p": 0.0, "width": 8, "flow_width": 8, "crop_size": 32,
                 "crop_scale": [0.5, 1.0], "clip_len": 4, "interval": 1, "batch_size": 8, "queue_size": 16,
                 "epochs": 80, "lr": 0.01, "warmup_epochs": 2.0, "knn_every": 200, "knn_k": 5,
                 "checkpoint_every": 10_000, "log_every": 40, "workers": 1},
}


@pytest.mark.slow
def test_pretraining_learns_on_an_easy_variant(tmp_path):
    inputs = make_inputs(tmp_path / "inputs", EASY)
    params = tiny_params(tmp_path / "params.yaml", EASY)
    done = run_stage("pretrain", params, **pretrain_paths(inputs, tmp_path / "out"))
    curves = tmp_path / "out/live/plots/metrics/train"
    read = lambda name: pd.read_csv(curves / f"{name}.tsv", sep="\t").set_index("step")[name]
    knn = {name: read(name) for name in ("knn_top1", "knn_flow_top1")}
    print(done.stdout, {name: c.to_dict() for name, c in knn.items()})
    # Learning, read without labels: the loss falls, and the flow encoder tells a clip's key from the
    # queue (flow_moco) and the aligned frames of a clip from shuffled ones (lmcl) better than at the
    # start. Untrained (lr 0, 20 steps, seeds 0 and 1) they read flow_moco 11.9 % and lmcl 21-25 %:
    # the same video's features agree even at random initialisation. Trained, seeds 0-3 of this
    # variant with shuffle-BN hiding the positive (bn_splits 2): loss -1.0 to -1.5, flow_moco
    # 17.9-24.8 % over the second half, lmcl 24-26 % over the first 40 steps and 28.7-36.7 % over the
    # second half (+4.8 to +12.3 points); with bn_splits 1 flow_moco read 32-45 %, the BatchNorm shortcut.
    # CPU training is reproducible on one machine but not across CPUs: on another machine of the same
    # kind, seeds 0-2 read flow_moco 14.5, 18.9, 17.8 % over the second half (lmcl +11.8, +10.0,
    # +10.3; loss -1.1, -1.7, -0.9), and the whole 400 steps at lr 0 read 11.1 and 7.6 % (seeds 0, 1).
    # So flow_moco's bound sits between the untrained (<= 11.9) and the trained (>= 14.5) readings.
    loss, flow_moco, lmcl = read("loss"), read("top1_flow_moco"), read("top1_lmcl")
    half = len(loss) // 2
    assert loss.iloc[-1] < loss.iloc[0] - 0.5, loss.to_dict()
    assert flow_moco.iloc[half:].mean() >= 13.0 and lmcl.iloc[half:].mean() >= lmcl.iloc[0] + 2.0, (flow_moco, lmcl)
    # The kNN curves of the monitor (val videos classified by train neighbours) start at step 0, the
    # random initialisation. Their class information is not asserted: at this size the val curves
    # of the flow encoder moved by -3 to +12.5 points over 400 steps in seven runs of this test (40
    # and 120 val videos, leave-one-out and train neighbours; CPU training is not bit-reproducible
    # here), and the RGB encoder's stays near its start: at sizes a test can afford it learns to
    # match the flow (contrastive top-1 of rgb_flow 3 -> 15-35 % in 600-1200 steps) by what the two
    # share besides motion (the object's shape, size and place); only at the motion benchmark's
    # size (200 videos at 128 x 160) does it take up the motion, after 240-600 steps.
    assert knn["knn_top1"].index[0] == 0 and knn["knn_flow_top1"].index[0] == 0

