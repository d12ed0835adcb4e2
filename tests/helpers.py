"""Helpers shared by tests (import as ``from helpers import ...``)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from mscl.io.flow_files import write_flow
from mscl.io.video import encode_video
from mscl.pipeline.cli import to_argv
from mscl.synthetic import draw_scene, render_video

REPO = Path(__file__).resolve().parents[1]

# clip settings the evaluation stages get in tests (tiny clips, in process, on the CPU)
EVAL_VIEWS = {"num_frames": 4, "workers": 0, "device": "cpu"}

# pretrain.flow_layout, written out from docs/mscl.md's clip-role table (§2.5) (not read from the code):
# which flow ("orig"inal or FRA-"rot"ated) of which clip ("q"uery or "k"ey) fills each flow field
CLIP_ROLES = {
    "released": {"flow_q": ("orig", "q"), "flow_q_rot": ("orig", "k"), "flow_k": ("rot", "q"), "flow_k_rot": ("rot", "k")},
    "paper": {"flow_q": ("orig", "q"), "flow_q_rot": ("rot", "q"), "flow_k": ("orig", "k"), "flow_k_rot": ("rot", "k")},
}


def moving_video(path: Path, *, label: int = 0, frames: int = 20, height: int = 48, width: int = 64, seed: int = 0,
                 codec: str = "libx264") -> Path:
    """Encode a small synthetic video of motion class ``label`` to ``path``; returns ``path``."""
    rng = np.random.default_rng(seed)
    scene = draw_scene(rng, label, height=height, width=width, num_frames=frames, speed=1.0)
    encode_video(path, render_video(scene, rng), fps=25, codec=codec)
    return path


def copy_project(dst: Path) -> None:
    """The tracked files of the project (what a clone has), as a fresh git repository."""
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dst / f)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        subprocess.run(cmd, cwd=dst, check=True, env=project_env())


GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def project_env() -> dict:
    """The environment DVC and the stages run in: a git identity, and this interpreter's ``python`` first."""
    return {**os.environ, **GIT_ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def run_stage(name: str, params: Path, *, cwd: Path = REPO, check: bool = True, dataset: str | None = None,
              **paths) -> subprocess.CompletedProcess:
    """Run ``stages/<name>.py`` as a separate process, as DVC does, with ``paths`` named as in the
    stage's ``PATHS`` (``videos_csv=...``) and, for ``index``, the ``dataset`` it lists."""
    cmd = [sys.executable, str(REPO / "stages" / f"{name}.py"), *to_argv(params, paths, dataset)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=check)


def swirling_flow(T: int, *, still: int = 0, size: int = 32, seed: int = 0) -> np.ndarray:
    """(T, H, W, 2) flow: zero for the first ``still`` frames, then a square whose motion turns
    by a random angle every frame (large frame differences)."""
    rng = np.random.default_rng(seed)
    flow = np.zeros((T, size, size, 2), np.float32)
    for j in range(still, T):
        a = rng.uniform(0, 2 * np.pi)
        flow[j, 8:24, 8:24] = 6 * np.cos(a), 6 * np.sin(a)
    return flow


def write_test_flow(path, flow):
    """Store ``flow`` as a flow container (bound 20 px, pairing offset 8 step 2); returns ``path``."""
    write_flow(path, flow, bound=20.0, meta={"offset": 8, "step": 2})
    return path
