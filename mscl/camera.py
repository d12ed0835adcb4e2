"""A virtual camera over a real photograph, for tests and benchmarks that need real image content:
views at any poses (:func:`camera_views`), the exact flow between two views (:func:`camera_flow`),
a looping path that stays inside the photo (:func:`looping_poses`) and a pan with its flow
(:func:`camera_pan`).
"""
from __future__ import annotations

import numpy as np


def sample_photo() -> np.ndarray:
    """A real photograph, ``(H, W, 3)`` uint8 RGB (matplotlib's sample image; no download)."""
    import matplotlib.cbook as cbook
    import matplotlib.image as mimage

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        return mimage.imread(fh, format="jpg")


def camera_views(photo: np.ndarray, poses: np.ndarray, H: int, W: int, *, cubic: bool = True) -> np.ndarray:
    """Views ``(T, H, W, 3)`` of ``photo`` by a camera at ``poses`` ``(T, 3)``: (s, x0, y0), frame
    pixel (x, y) seeing photo point (x0 + s x, y0 + s y)."""
    import cv2

    flags = (cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
    return np.stack([cv2.warpAffine(photo, np.array([[s, 0, x0], [0, s, y0]]), (W, H), flags=flags) for s, x0, y0 in poses])


def looping_poses(photo_shape: tuple[int, ...], T: int, H: int, W: int, *, period: int = 40) -> np.ndarray:
    """``(T, 3)`` poses of a camera that circles a small region of the photo while zooming by 1 %
    steps, so any number of frames stays inside it (about 1.5 px of motion per frame)."""
    phase = 2 * np.pi * np.arange(T) / period
    s = 0.9 * min(photo_shape[0] / H, photo_shape[1] / W) / (1.01 ** (10 * np.sin(phase)))
    x0 = photo_shape[1] / 2 + 10 * np.cos(phase) - s * W / 2
    y0 = photo_shape[0] / 2 + 5 * np.sin(phase) - s * H / 2
    return np.stack([s, x0, y0], 1)


def camera_flow(a: np.ndarray, b: np.ndarray, H: int, W: int) -> np.ndarray:
    """Exact forward flow ``(H, W, 2)`` float32 from the view at pose ``a`` to the view at pose ``b``
    (each (s, x0, y0)): the photo point x0_a + s_a x is seen at (x0_a + s_a x - x0_b) / s_b."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    u = (a[1] + a[0] * xs - b[1]) / b[0] - xs
    v = (a[2] + a[0] * ys - b[2]) / b[0] - ys
    return np.stack((u, v), axis=-1).astype(np.float32)


def camera_pan(photo: np.ndarray, T: int, H: int, W: int, step=(1.4, 0.6), zoom: float = 1.015):
    """Views of ``photo`` by a camera moving ``step`` px and zooming in by ``zoom`` per frame.

    Returns:
        (frames ``(T, H, W, 3)`` uint8, true flow ``(T - 1, H, W, 2)`` float32 between consecutive frames).
    """
    import cv2

    f = 0.8 * min(photo.shape[0] / H, photo.shape[1] / W)  # shrink first: no aliasing in the warp
    photo = cv2.resize(photo, (round(photo.shape[1] / f), round(photo.shape[0] / f)), interpolation=cv2.INTER_AREA)
    cy, cx = photo.shape[0] / 2, photo.shape[1] / 2
    t = np.arange(T, dtype=np.float64)
    s = zoom**-t  # photo px per frame px; frame pixel x sees photo point c + s (x - centre + t step)
    poses = np.stack([s, cx - s * (W / 2 - step[0] * t), cy - s * (H / 2 - step[1] * t)], 1)
    flows = [camera_flow(poses[i], poses[i + 1], H, W) for i in range(T - 1)]
    return camera_views(photo, poses, H, W), np.stack(flows) if flows else np.zeros((0, H, W, 2), np.float32)
