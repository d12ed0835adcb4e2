import dataclasses
import os

import numpy as np
import pandas as pd
import pytest

from mscl.io.flow_files import FlowReader
from mscl.io.frames import write_frames
from mscl.params import FlowParams, default
from mscl.pipeline.flow import MANIFEST_COLUMNS, extract_flow, flow_pairs, resolve_backend
from mscl.synthetic import CLASSES, draw_scene, render_video, true_flow

FAST = default(FlowParams, offset=2, step=2, workers=1, scales=3, warps=3, outer_iterations=3, bound=10.0)


def test_flow_pairs():
    assert flow_pairs(48, 8, 2)[-1] == (38, 46) and len(flow_pairs(48, 8, 2)) == 20
    assert flow_pairs(5, 1, 1) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert flow_pairs(8, 8, 2) == [] and flow_pairs(3, 8, 2) == []


def test_auto_backend_is_opencv_without_cuda():
    assert resolve_backend(default(FlowParams, backend="auto", device="cpu")) == "opencv"
    assert resolve_backend(default(FlowParams, backend="torch")) == "torch"
    # on a Ray cluster, what decides is the cluster's GPUs, not this machine's
    assert resolve_backend(default(FlowParams, backend="auto", device="auto"), cluster_gpus=2.0) == "torch"
    assert resolve_backend(default(FlowParams, backend="auto", device="cpu"), cluster_gpus=2.0) == "opencv"
    assert resolve_backend(default(FlowParams, backend="auto", device="auto"), cluster_gpus=0.0) == "opencv"


def _frames_dir(tmp_path, n_frames=(9, 9)):
    """Frame containers of rightward-moving synthetic videos; returns (frames manifest, dir, scenes)."""
    rows, scenes = [], []
    for k, t in enumerate(n_frames):
        rng = np.random.default_rng(k)
        scene = draw_scene(rng, CLASSES.index("right"), height=40, width=48, num_frames=t, speed=1.0)
        write_frames(tmp_path / "frames" / f"v{k}.zip", render_video(scene, rng), quality=95, meta={"fingerprint": str(k)})
        rows.append({"video_id": f"v{k}", "frames": f"v{k}.zip", "status": "ok", "reason": ""})
        scenes.append(scene)
    return pd.DataFrame(rows), tmp_path / "frames", scenes


@pytest.mark.parametrize("backend", ["opencv", "torch"])
def test_extract_flow_recovers_motion_and_carries_failures(tmp_path, backend):
    frames, frames_dir, scenes = _frames_dir(tmp_path, (9, 2))
    frames.loc[2] = {"video_id": "broken", "frames": "", "status": "empty", "reason": "zero-byte file"}
    p = dataclasses.replace(FAST, backend=backend, device="cpu")
    manifest, metrics = extract_flow(frames, frames_dir, tmp_path / "flow", p)
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert manifest["status"].tolist() == ["ok", "too_short", "no_frames"]
    assert "zero-byte" in manifest.loc[2, "reason"] and metrics["failed"] == 2 and metrics["backend"] == backend
    assert manifest.loc[0, "num_flows"] == 4 and metrics["flows"] == 4
    with FlowReader(tmp_path / "flow" / "v0.zip") as r:
        flow = r.read([1])[0]  # frames 2 -> 4
    truth, mask = true_flow(scenes[0], 2, dt=2)
    inner = mask & (np.abs(np.gradient(mask.astype(float))[0]) == 0)
    epe = np.hypot(*(flow[inner] - truth[inner]).T).mean()
    assert epe < 0.5, epe


def test_rerun_reuses_and_tvl1_param_change_recomputes(tmp_path):
    frames, frames_dir, _ = _frames_dir(tmp_path)
    extract_flow(frames, frames_dir, tmp_path / "flow", FAST)
    ino = {f: os.stat(f).st_ino for f in (tmp_path / "flow").rglob("*.zip")}
    _, m = extract_flow(frames, frames_dir, tmp_path / "flow", dataclasses.replace(FAST, workers=2, pictures=1))
    assert m["reused"] == 2 and {f: os.stat(f).st_ino for f in ino} == ino
    _, m = extract_flow(frames, frames_dir, tmp_path / "flow", dataclasses.replace(FAST, tau=0.2))
    assert m["reused"] == 0
    # the storage is part of the output: switching it rewrites every container in the new storage
    manifest, m = extract_flow(frames, frames_dir, tmp_path / "flow", dataclasses.replace(FAST, tau=0.2, storage="png"))
    assert m["reused"] == 0
    with FlowReader(tmp_path / "flow" / manifest["flow"][0]) as r:
        assert r.storage == "png"


@pytest.mark.parametrize("backend", ["opencv", "torch"])
def test_compose_chains_consecutive_flows_into_the_stored_pairs(tmp_path, backend):
    # a texture moving 2 px per frame, over offset 8: 16 px, beyond what TV-L1 finds between the two frames
    rng = np.random.default_rng(5)
    scene = draw_scene(rng, CLASSES.index("right"), height=64, width=96, num_frames=12, speed=2.0)
    write_frames(tmp_path / "frames/v.zip", render_video(scene, rng), quality=95, meta={"fingerprint": "v"})
    frames = pd.DataFrame([{"video_id": "v", "frames": "v.zip", "status": "ok", "reason": ""}])
    errors = {}
    for compose in (False, True):
        p = dataclasses.replace(FAST, backend=backend, device="cpu", offset=8, step=2, compose=compose, bound=20.0)
        manifest, _ = extract_flow(frames, tmp_path / "frames", tmp_path / f"flow{compose}", p)
        assert manifest.loc[0, "num_flows"] == 2  # pairs (0, 8) and (2, 10) either way
        with FlowReader(tmp_path / f"flow{compose}/v.zip") as r:
            flow = r.read([1])[0]
        truth, mask = true_flow(scene, 2, dt=8)
        ys, xs = np.nonzero(mask)  # the texture moves behind a still outline: keep the pixels that stay on it
        ex, ey = (np.clip(np.rint(c + truth[ys, xs, k]).astype(int), 0, n - 1) for c, k, n in ((xs, 0, 96), (ys, 1, 64)))
        stays = mask[ey, ex]
        errors[compose] = np.median(np.hypot(*(flow[ys[stays], xs[stays]] - truth[ys[stays], xs[stays]]).T))
    # (FAST: a reduced solver; docs/optical-flow.md has the default solver on the benchmark data)
    assert errors[True] < 1.5 and errors[True] < errors[False] / 8, errors
