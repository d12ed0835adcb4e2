"""The Ray executor on a real local Ray instance (2 CPUs, started here): same bytes as the local
executor, a killed worker is retried or its video reported, and a rerun finishes the rest."""
import dataclasses
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from mscl.io.tables import USABLE
from mscl.params import ClusterParams, FlowParams, FramesParams, ScreenParams, default
from mscl.pipeline.cluster import ClusterError, start
from mscl.pipeline.flow import extract_flow
from mscl.pipeline.frames import extract_frames
from mscl.pipeline.screen import screen_videos

from helpers import REPO, moving_video, run_stage

pytestmark = pytest.mark.slow  # a real Ray instance or real stage runs: seconds each

LOCAL, RAY = default(ClusterParams), default(ClusterParams, executor="ray")
FRAMES = default(FramesParams, short_side=48, min_frames=8, workers=2)
FLOW = default(FlowParams, offset=2, step=1, workers=2, scales=3, warps=3, outer_iterations=5, inner_iterations=20,
                  pictures=0, backend="opencv", device="cpu")


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Six good videos of three motion classes, an empty file and a missing one."""
    src = tmp_path_factory.mktemp("src")
    paths = [moving_video(src / f"v{i}.mp4", label=i % 3, frames=24, seed=i) for i in range(6)]
    (src / "empty.mp4").write_bytes(b"")
    paths += [src / "empty.mp4", src / "missing.mp4"]
    labels = [i % 3 for i in range(len(paths))]
    return pd.DataFrame({"video_id": [f"c/{p.stem}" for p in paths], "path": [str(p) for p in paths], "label": labels,
                         "label_name": [f"class{k}" for k in labels], "split": "train"})


@pytest.fixture(scope="module")
def local_run(videos, tmp_path_factory):
    """frames and flow with the local executor: the reference."""
    root = tmp_path_factory.mktemp("local")
    frames, _ = extract_frames(videos, root / "frames", FRAMES)
    flow, _ = extract_flow(frames, root / "frames", root / "flow", FLOW)
    return root, frames, flow


def _files(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*.zip"))}


def test_ray_writes_the_same_manifests_and_bytes_as_local(ray_instance, videos, local_run, tmp_path):
    root, frames_local, flow_local = local_run
    frames, _ = extract_frames(videos, tmp_path / "frames", FRAMES, RAY)
    pd.testing.assert_frame_equal(frames, frames_local)  # bad inputs too, reasons naming the real paths
    assert _files(tmp_path / "frames") == _files(root / "frames") and len(_files(root / "frames")) == 6
    flow, metrics = extract_flow(frames, tmp_path / "frames", tmp_path / "flow", FLOW, RAY)
    pd.testing.assert_frame_equal(flow, flow_local)
    assert _files(tmp_path / "flow") == _files(root / "flow") and metrics["backend"] == "opencv"
    p = default(ScreenParams, clip_len=4, stride=1, block=8, device="cpu")
    samples, m_ray = screen_videos(videos, flow, tmp_path / "flow", p, RAY)
    expected, m_local = screen_videos(videos, flow_local, root / "flow", p, LOCAL)
    pd.testing.assert_frame_equal(samples, expected)
    assert {**m_ray, "seconds": 0} == {**m_local, "seconds": 0} and len(samples) > 0


def test_torch_flow_on_cpu_actors_matches_local_torch(ray_instance, videos, local_run, tmp_path):
    root, frames, _ = local_run
    p = dataclasses.replace(FLOW, backend="torch", batch_pairs=16)
    here, _ = extract_flow(frames, root / "frames", tmp_path / "local", p, LOCAL)
    there, _ = extract_flow(frames, root / "frames", tmp_path / "ray", p, RAY)
    pd.testing.assert_frame_equal(here, there)
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")


def test_gpu_flow_on_a_cluster_without_gpu_says_so(ray_instance, local_run, tmp_path):
    root, frames, _ = local_run
    p = dataclasses.replace(FLOW, backend="torch", device="cuda")
    with pytest.raises(ClusterError, match="flow.device = cuda, but the Ray cluster has no GPU"):
        extract_flow(frames, root / "frames", tmp_path / "flow", p, RAY)


def _kill_one_task(name: str, killed: list[int], timeout: float = 60.0) -> None:
    """SIGKILL the first Ray worker process seen running task ``name`` (its process title)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in os.listdir("/proc"):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if pid.isdigit() and cmd.startswith(f"ray::{name}".encode()):
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.005)


def _flow_with_a_killed_worker(frames, frames_dir, out, cluster):
    killed = []
    killer = threading.Thread(target=_kill_one_task, args=("run_shipped", killed))
    killer.start()
    try:
        return extract_flow(frames, frames_dir, out, FLOW, cluster), killed
    finally:
        killer.join()


def test_a_killed_worker_is_retried(ray_instance, local_run, tmp_path):
    root, frames, flow_local = local_run
    (flow, _), killed = _flow_with_a_killed_worker(frames, root / "frames", tmp_path / "flow",
                                                   default(ClusterParams, executor="ray", max_retries=2))
    assert killed, "no task was caught running"
    pd.testing.assert_frame_equal(flow, flow_local)
    assert _files(tmp_path / "flow") == _files(root / "flow")


def test_past_its_retries_a_video_is_reported_and_a_rerun_finishes_only_it(ray_instance, local_run, tmp_path):
    root, frames, flow_local = local_run
    (flow, metrics), killed = _flow_with_a_killed_worker(frames, root / "frames", tmp_path / "flow",
                                                         default(ClusterParams, executor="ray", max_retries=0))
    assert killed, "no task was caught running"
    failed = flow[flow["status"] == "worker_error"]
    assert len(failed) == 1 and "died" in failed["reason"].iloc[0].lower(), flow[["status", "reason"]]
    assert flow["status"].isin(USABLE).sum() == 5 and metrics["usable"] == 5
    assert len(_files(tmp_path / "flow")) == 5
    flow, metrics = extract_flow(frames, root / "frames", tmp_path / "flow", FLOW, RAY)
    assert metrics["reused"] == 5
    pd.testing.assert_frame_equal(flow, flow_local)
    assert _files(tmp_path / "flow") == _files(root / "flow")


def test_without_ray_the_stage_stops_at_once_saying_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when it is not installed
    with pytest.raises(SystemExit, match=r"^frames: cluster.executor: ray needs Ray; install it with: pip install -e '\.\[ray\]'$"):
        start(RAY, "frames")
    start(LOCAL, "frames")  # the local executor never imports Ray


@pytest.mark.slow
def test_the_frames_stage_runs_on_its_own_ray_instance(write_params, videos, local_run, tmp_path):
    """The command `dvc repro` runs, with executor ray: it starts (or joins) a Ray instance itself."""
    pytest.importorskip("ray")
    root, frames_local, _ = local_run
    videos.to_csv(tmp_path / "videos.csv", index=False)
    params = write_params({"cluster": {"executor": "ray"}, "frames": dataclasses.asdict(FRAMES)})
    done = run_stage("frames", params, videos_csv=tmp_path / "videos.csv", out_dir=tmp_path / "frames",
                     log=tmp_path / "frames.json", cwd=REPO)
    assert "6/8 videos usable" in done.stdout
    assert _files(tmp_path / "frames") == _files(root / "frames")
