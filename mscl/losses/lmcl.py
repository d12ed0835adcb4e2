"""Local motion contrast (LMCL, method doc 3.3): match each RGB time step to the flow at the same
time step of the same clip, against the clip's other flow time steps and, with flow rotation
(FRA), against every time step of its rotated flow."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mscl.losses.infonce import full_precision


def temporal_descriptors(x: Tensor) -> Tensor:
    """(B, C, t, H, W) feature map -> (B, C, t) by spatial average pooling."""
    return x.mean(dim=(3, 4))


def local_motion_contrast(
    x_rgb: Tensor, x_flow: Tensor, x_flow_rot: Tensor | None, temperature: float
) -> Tensor:
    """Per (clip b, time i): a t-way (2t-way with rotated flow) classification with target i.

    Args:
        x_rgb: (B, C, t) RGB descriptors (finest pyramid level, spatially pooled).
        x_flow: (B, C, t) flow descriptors of the same clips (flow layer4, pooled).
        x_flow_rot: (B, C, t) descriptors of the rotated flow, or None (FRA off).
        temperature: T > 0.
    Returns:
        scalar mean cross-entropy over the B * t rows.
    """
    B, _, t = x_rgb.shape
    for x in (x_flow, x_flow_rot):
        if x is not None and x.shape != x_rgb.shape:
            raise ValueError(f"RGB descriptors {tuple(x_rgb.shape)} but flow {tuple(x.shape)}")
    if x_flow_rot is not None:
        x_flow = torch.cat([x_flow, x_flow_rot], dim=2)  # (B, C, 2t): the second clip's steps are negatives
    with full_precision(x_rgb):
        a = F.normalize(x_rgb.float(), dim=1)
        b = F.normalize(x_flow.float(), dim=1)
        logits = torch.einsum("bci,bcj->bij", a, b) / temperature  # (B, t, t or 2t)
        labels = torch.arange(t, device=x_rgb.device).repeat(B)  # (B*t,): row i -> column i
        return F.cross_entropy(logits.flatten(0, 1), labels)
