"""Fixtures of the downstream tests: a tiny saved encoder and tables of tiny noise videos."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mscl.io.checkpoint import save_module
from mscl.io.frames import write_frames
from mscl.models.r3d import R3D18


@pytest.fixture
def encoder_file(tmp_path):
    """A width-4 R3D-18 saved as the pretrain stage saves its encoder; returns the .pt path."""
    path = tmp_path / "encoder.pt"
    save_module(path, R3D18(width=4), {"backbone": "r3d_18", "width": 4, "method": "mscl", "params": {}})
    return path


@pytest.fixture
def video_table(tmp_path):
    """Write noise videos and return a table builder ``make(labels, name) -> DataFrame``.

    A video of class y has pixels drawn in [60 y, 60 y + 60): classes differ in brightness.
    """

    def make(labels, name="v", frames=12, height=20, width=24):
        rng = np.random.default_rng([ord(c) for c in name] + list(labels))
        rows = []
        for i, y in enumerate(labels):
            pixels = rng.integers(60 * y, 60 * y + 60, (frames, height, width, 3), dtype=np.uint8)
            path = tmp_path / f"{name}{i}.zip"
            write_frames(path, pixels, quality=90, meta={})
            rows.append({"video_id": f"{name}{i}", "frames": str(path), "num_frames": frames, "label": y})
        return pd.DataFrame(rows)

    return make
