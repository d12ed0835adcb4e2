"""The index and frames stages as DVC runs them: separate processes, argv paths."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from mscl.io.frames import read_meta
from mscl.pipeline.cli import to_argv

from helpers import REPO, moving_video, run_stage


@pytest.mark.slow
def test_index_then_frames_on_tiny_synthetic(tmp_path, write_params):
    params = write_params({"datasets": {"motion": {"videos_per_class": 4, "num_frames": 18, "height": 32, "width": 40,
                                                   "test_fraction": 0.25, "val_fraction": 0.25}},
                           "frames": {"short_side": 32, "workers": 1}})
    done = run_stage("index", params, dataset="motion", videos_csv=tmp_path / "index/videos.csv", raw_dir=tmp_path / "raw",
                     log=tmp_path / "m/index.json")
    assert "index (motion): 32 videos of 8 classes, 16 train, 8 val, 8 test" in done.stdout
    videos = pd.read_csv(tmp_path / "index/videos.csv")
    assert len(videos) == 32 and json.loads((tmp_path / "m/index.json").read_text())["classes"] == 8
    run_stage("frames", params, videos_csv=tmp_path / "index/videos.csv", out_dir=tmp_path / "frames", log=tmp_path / "m/frames.json")
    manifest = pd.read_csv(tmp_path / "frames/manifest.csv", keep_default_na=False)
    assert (manifest["status"] == "ok").all() and (manifest["num_frames"] == 18).all()
    assert len(manifest) == 32  # every split is decoded: train for pretraining, val and test for evaluation


def test_bad_params_stop_before_any_work(tmp_path, write_params):
    params = write_params({"frames": {"short_sid": 64}})
    r = run_stage("frames", params, videos_csv=tmp_path / "v.csv", out_dir=tmp_path / "frames", log=tmp_path / "m.json", check=False)
    assert r.returncode != 0 and "unknown key frames.short_sid; did you mean 'short_side'" in r.stderr
    assert not (tmp_path / "frames").exists()


def test_exit_code_is_nonzero_only_when_every_video_failed(tmp_path, write_params):
    params = write_params({"frames": {"workers": 1}})
    (tmp_path / "bad.mp4").write_bytes(b"")
    pd.DataFrame([{"video_id": "bad", "path": str(tmp_path / "bad.mp4"), "label": 0, "label_name": "a", "split": "train"}]).to_csv(tmp_path / "v.csv", index=False)
    r = run_stage("frames", params, videos_csv=tmp_path / "v.csv", out_dir=tmp_path / "frames", log=tmp_path / "m.json", check=False)
    assert r.returncode == 1 and "every video failed" in r.stderr
    assert json.loads((tmp_path / "m.json").read_text())["status"] == {"empty": 1}


@pytest.mark.slow
def test_killed_run_resumes_only_unfinished_videos(tmp_path, write_params):
    n = 40
    rows = []
    for i in range(n):
        path = moving_video(tmp_path / "src" / f"v{i:02d}.mp4", frames=60, height=64, width=80, seed=i)
        rows.append({"video_id": f"v{i:02d}", "path": str(path), "label": 0, "label_name": "a", "split": "train"})
    pd.DataFrame(rows).to_csv(tmp_path / "v.csv", index=False)
    params = write_params({"frames": {"workers": 1, "short_side": 64, "min_frames": 8}})
    out = tmp_path / "frames"
    args = to_argv(params, {"videos_csv": tmp_path / "v.csv", "out_dir": out, "log": tmp_path / "m.json"})
    proc = subprocess.Popen([sys.executable, str(REPO / "stages/frames.py"), *args], stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(list(out.rglob("*.zip"))) < 5 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p: os.stat(p).st_ino for p in out.rglob("*.zip")}
    assert 5 <= len(done) < n, "the run must be killed halfway"
    assert all(read_meta(p) is not None for p in done)  # atomic writes: every visible container is whole
    assert not (out / "manifest.csv").exists()

    run_stage("frames", params, videos_csv=tmp_path / "v.csv", out_dir=out, log=tmp_path / "m.json")
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["reused"] == len(done) and metrics["usable"] == n
    assert all(os.stat(p).st_ino == ino for p, ino in done.items())  # finished videos were not redone
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
