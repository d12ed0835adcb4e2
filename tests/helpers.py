"""Helpers shared by tests (import as ``from helpers import ...``)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from mscl.io.video import encode_video
from mscl.synthetic import draw_scene, render_video

REPO = Path(__file__).resolve().parents[1]

# pretrain.flow_layout, written out from the README's clip-role table (not read from the code):
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


def run_stage(name: str, *args, cwd: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``stages/<name>.py`` as a separate process, as DVC does."""
    cmd = [sys.executable, str(REPO / "stages" / f"{name}.py"), *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=check)
