"""Middlebury colour-wheel coding of optical flow (docs/mscl.md §2.3, §2.4).

Flow direction picks a hue on a 55-colour wheel, flow magnitude picks the saturation: zero
flow is white, a unit vector is the fully saturated wheel colour, and vectors longer than one
are darkened to 75 %. The flow encoder sees this 3-channel picture instead of raw (u, v), and
MDS (§4) compares consecutive pictures, so both go through :func:`flow_to_color`.

Works on any leading batch dimensions and on any device; the flow channel axis is ``-3``
(a clip ``(2, T, H, W)`` becomes ``(T, 2, H, W)`` with ``flow.movedim(0, 1)``).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

# Number of wheel colours on each arc between two primaries/secondaries, in wheel order
# red -> yellow -> green -> cyan -> blue -> magenta -> red. The uneven lengths follow the
# Middlebury benchmark so that perceptually similar hues cover similar angles.
SEGMENTS = (("RY", 15), ("YG", 6), ("GC", 4), ("CB", 11), ("BM", 13), ("MR", 6))
NUM_COLORS = sum(n for _, n in SEGMENTS)  # 55


def _ramp(n: int) -> np.ndarray:
    """floor(255 * i / n) for i = 0..n-1: the wheel's integer ramp on one arc."""
    return np.floor(255 * np.arange(n) / n)


def color_wheel() -> Tensor:
    """The 55 wheel colours, in [0, 1].

    Returns:
        (55, 3) float64 RGB; row 0 is pure red (rightward flow), rows advance clockwise
        on screen (downward flow reaches yellow, leftward cyan-blue, upward blue-magenta).
    """
    # On each arc one channel is held at 255 and one ramps up (+) or down (-).
    arcs = {"RY": (0, 1, +1), "YG": (1, 0, -1), "GC": (1, 2, +1),
            "CB": (2, 1, -1), "BM": (2, 0, +1), "MR": (0, 2, -1)}
    rows = []
    for name, n in SEGMENTS:
        held, ramped, sign = arcs[name]
        arc = np.zeros((n, 3))
        arc[:, held] = 255
        arc[:, ramped] = _ramp(n) if sign > 0 else 255 - _ramp(n)
        rows.append(arc)
    return torch.from_numpy(np.concatenate(rows) / 255.0)


_WHEEL = color_wheel()


def flow_to_color(flow: Tensor) -> Tensor:
    """Colour-code flow that is already scaled so that |f| <= 1 means full saturation.

    Args:
        flow: (..., 2, H, W) float, channel 0 = u (rightwards), 1 = v (downwards).

    Returns:
        (..., 3, H, W) RGB in [0, 1], same dtype (float32 for integer input) and device.
    """
    flow = flow if flow.is_floating_point() else flow.float()
    u, v = flow.unbind(-3)                                  # (..., H, W) each
    rad = torch.sqrt(u * u + v * v).unsqueeze(-3)           # (..., 1, H, W)
    # Angle in (-1, 1]: rightward maps to -1 (wheel start, red) because of the (-v, -u) order.
    a = torch.atan2(-v, -u) / math.pi
    fk = (a + 1) / 2 * (NUM_COLORS - 1)                     # position on the wheel, [0, 54]
    k0 = fk.floor().long().clamp(0, NUM_COLORS - 1)
    k1 = (k0 + 1) % NUM_COLORS
    f = (fk - k0).unsqueeze(-3)                             # (..., 1, H, W) blend weight
    wheel = _WHEEL.to(device=flow.device, dtype=flow.dtype)
    col0 = wheel[k0].movedim(-1, -3)                        # (..., 3, H, W)
    col1 = wheel[k1].movedim(-1, -3)
    col = (1 - f) * col0 + f * col1
    # Inside the unit disc blend towards white by magnitude; outside, darken (out of range).
    return torch.where(rad <= 1, 1 - rad * (1 - col), col * 0.75)


NORM_EPS = 1e-5  # added to a frame's longest vector, so an all-zero frame stays zero


def normalize_per_frame(flow: Tensor, eps: float = NORM_EPS) -> Tensor:
    """Divide every flow frame by its largest vector length (docs/mscl.md §2.3).

    Args:
        flow: (..., 2, H, W) float, pixels.
        eps: added to the maximum so an all-zero frame stays zero.

    Returns:
        (..., 2, H, W), every frame's longest vector just under length 1.
    """
    flow = flow if flow.is_floating_point() else flow.float()
    rad_max = torch.linalg.vector_norm(flow, dim=-3, keepdim=True).amax(dim=(-2, -1), keepdim=True)
    return flow / (rad_max + eps)                            # rad_max: (..., 1, 1, 1)


def flow_to_color_np(flow: np.ndarray) -> np.ndarray:
    """Picture of one flow field for reports, max-normalised like RAFT's ``flow_to_image``.

    Args:
        flow: (H, W, 2) float, pixels.

    Returns:
        (H, W, 3) uint8 RGB, ``floor(255 * colour)``.
    """
    f = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1)
    rgb = flow_to_color(normalize_per_frame(f))             # (3, H, W)
    return torch.floor(255 * rgb).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
