"""Frames with known motion for the TV-L1 tests.

Synthetic pairs sample one continuous texture (a sum of random plane waves) at x in frame 0 and
at the pre-image of x under the motion in frame 1, so the true flow is known exactly. The real
pairs come from a photograph panned and zoomed by a virtual camera, encoded with PyAV and
decoded back, so they carry real content and real compression noise.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mscl.camera import camera_pan, sample_photo

SIZE = 64  # synthetic frames are SIZE x SIZE
MARGIN = 8  # border pixels left out of accuracy checks (motion enters/leaves the image there)


def wave_texture(x: np.ndarray, y: np.ndarray, seed: int, waves: int = 40) -> np.ndarray:
    """Smooth random texture in [0, 255] at continuous coordinates (periods of 4 to 50 px)."""
    rng = np.random.default_rng(seed)
    out = np.zeros_like(x)
    for _ in range(waves):
        freq, angle, phase = rng.uniform(0.02, 0.25), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
        out += np.cos(2 * np.pi * freq * (np.cos(angle) * x + np.sin(angle) * y) + phase)
    return np.clip(128 + 45 * out / np.sqrt(waves), 0, 255)


def affine_pair(A: np.ndarray, t: np.ndarray, seed: int = 1, size: int = SIZE):
    """Frames related by ``x1 = c + A (x0 - c) + t`` about the image centre ``c``.

    Returns:
        (gray ``(2, size, size)`` uint8, true flow ``(size, size, 2)`` float32 from frame 0 to 1).
    """
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    c = (size - 1) / 2
    pts = np.stack((xs - c, ys - c))  # (2, H, W) relative to the centre
    moved = np.einsum("ij,jhw->ihw", A, pts) + t[:, None, None]
    back = np.einsum("ij,jhw->ihw", np.linalg.inv(A), pts - t[:, None, None])  # pre-image of x
    I0 = wave_texture(xs, ys, seed)
    I1 = wave_texture(back[0] + c, back[1] + c, seed)
    gray = np.round(np.stack((I0, I1))).astype(np.uint8)
    return gray, np.moveaxis(moved - pts, 0, -1).astype(np.float32)


def _rotation(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


@pytest.fixture(scope="session")
def motion_pairs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (gray ``(2, 64, 64)`` uint8, true flow ``(64, 64, 2)``) for four known motions."""
    eye = np.eye(2)
    return {
        "translation": affine_pair(eye, np.array([1.3, -0.7])),
        "rotation": affine_pair(_rotation(3.0), np.zeros(2)),
        "zoom": affine_pair(1.05 * eye, np.zeros(2)),
        "static": affine_pair(eye, np.zeros(2)),
    }


def epe(a: np.ndarray, b: np.ndarray, margin: int = 0) -> float:
    """Mean end-point error between flows ``(..., H, W, 2)``, ignoring ``margin`` border pixels."""
    d = np.linalg.norm(a - b, axis=-1)
    if margin:
        d = d[..., margin:-margin, margin:-margin]
    return float(d.mean())


@pytest.fixture(scope="session")
def flow_epe():
    return epe


def encode_decode(frames: np.ndarray, path) -> np.ndarray:
    """Encode ``(T, H, W, 3)`` uint8 RGB to H.264 at ``path`` with PyAV and decode it back."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"crf": "23"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(stream.encode())
    with av.open(str(path)) as inp:
        return np.stack([f.to_ndarray(format="rgb24") for f in inp.decode(video=0)])


@pytest.fixture(scope="session")
def hopper_video(tmp_path_factory) -> tuple[np.ndarray, np.ndarray]:
    """A panned photograph after an H.264 round trip.

    Returns:
        (frames ``(5, 96, 128, 3)`` uint8 RGB, true flow ``(4, 96, 128, 2)`` between consecutive frames).
    """
    frames, flow = camera_pan(sample_photo(), T=5, H=96, W=128)
    return encode_decode(frames, tmp_path_factory.mktemp("video") / "pan.mp4"), flow


@pytest.fixture(scope="module")
def single_thread():
    """One torch thread: on a shared machine, intra-op threads on these small tensors mostly
    wait for each other (a test file ran 6x slower with two threads under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
