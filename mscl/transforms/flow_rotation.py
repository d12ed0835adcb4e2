"""Flow Rotation Augmentation (FRA, docs/mscl.md §2.3): motion-shuffled negatives by rotating flow.

Each clip draws an angle index cid ~ U{0..7} and every flow vector of its T frames is rotated by
beta = (0.2 + 0.2 cid) pi. The released code spreads ratios (0.2, 1.8) over 8 chunks, so the
angles are {0.2, ..., 1.6} pi and 1.8 pi is never reached; we keep that set (docs/mscl.md §8.4).
Per-frame max normalisation of the rotated flow lives in ``mscl.flow.colorwheel``.
"""
from __future__ import annotations

import math

import torch

NUM_ANGLES = 8  # docs/mscl.md §8.4: the release's chunks
FIRST_ANGLE = 0.2  # in units of pi; also the spacing between consecutive angles


def fra_angle_index(
    generator: torch.Generator, shape: tuple[int, ...] = (), *, num_angles: int = NUM_ANGLES
) -> torch.Tensor:
    """Draw FRA angle indices cid ~ U{0, ..., num_angles - 1}, one per clip.

    Args:
        generator: CPU ``torch.Generator`` (the only source of randomness).
        shape: () for one clip, (B,) for a batch.
    Returns:
        long tensor of ``shape`` on the CPU.
    """
    return torch.randint(num_angles, shape, generator=generator)


def fra_angle(cid: int | torch.Tensor) -> float | torch.Tensor:
    """Rotation angle beta = (0.2 + 0.2 cid) pi in radians, for an int or a tensor of indices."""
    if isinstance(cid, torch.Tensor):
        return (FIRST_ANGLE + FIRST_ANGLE * cid.to(torch.float64)) * math.pi
    return (FIRST_ANGLE + FIRST_ANGLE * cid) * math.pi


def flow_rotation(flow: torch.Tensor, beta: float | torch.Tensor) -> torch.Tensor:
    """Rotate every flow vector by beta: u' = cos b u - sin b v, v' = sin b u + cos b v.

    The rotation is counter-clockwise in (u, v) coordinates; since v points down in the image,
    it turns clockwise on screen. One angle per clip, shared by its frames (docs/mscl.md §2.3).

    Args:
        flow: (..., 2, T, H, W), channel 0 = u, 1 = v.
        beta: radians; a float, or a tensor of shape ``flow.shape[:-4]`` (e.g. (B,)).
    Returns:
        (..., 2, T, H, W), same dtype and device as ``flow``.
    """
    dt = torch.promote_types(flow.dtype, torch.float32)  # no float16 trigonometry
    beta = torch.as_tensor(beta).to(flow.device, dt)[..., None, None, None]  # (..., 1, 1, 1)
    cos, sin = torch.cos(beta).to(flow.dtype), torch.sin(beta).to(flow.dtype)
    u, v = flow.unbind(dim=-4)  # each (..., T, H, W)
    return torch.stack([cos * u - sin * v, sin * u + cos * v], dim=-4)
