"""Local motion contrast (LMCL, docs/mscl.md §3.3): match each RGB time step to the flow at the same
time step of the same clip, against the clip's other flow time steps and, with flow rotation
(FRA), against every time step of its rotated flow."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mscl.losses.infonce import cross_entropy_top1, full_precision


def temporal_descriptors(x: Tensor) -> Tensor:
    """(B, C, t, H, W) feature map -> (B, C, t) by spatial average pooling."""
    return x.mean(dim=(3, 4))


def local_motion_contrast(
    x_rgb: Tensor, x_flow: Tensor, x_second: Tensor | None, temperature: float
) -> tuple[Tensor, Tensor]:
    """Per (clip b, time i): a t-way (2t-way with a second flow clip) classification with target i.

    Args:
        x_rgb: (B, C, t) RGB descriptors (finest pyramid level, spatially pooled).
        x_flow: (B, C, t) flow descriptors of the same clips (flow layer4, pooled).
        x_second: (B, C, t) descriptors of a second flow clip whose every time step is a further
            negative (the rotated flow in the paper's layout, the key clip's flow in the
            released one), or None (FRA off).
        temperature: T > 0.
    Returns:
        scalar mean cross-entropy over the B * t rows (float32, also under autocast), and the
        detached fraction of rows whose own time step scores highest.
    """
    B, _, t = x_rgb.shape
    for x in (x_flow, x_second):
        if x is not None and x.shape != x_rgb.shape:
            raise ValueError(f"RGB descriptors {tuple(x_rgb.shape)} but flow {tuple(x.shape)}")
    if x_second is not None:
        x_flow = torch.cat([x_flow, x_second], dim=2)  # (B, C, 2t): the second clip's steps are negatives
    with full_precision(x_rgb):
        a = F.normalize(x_rgb.float(), dim=1)
        b = F.normalize(x_flow.float(), dim=1)
        logits = torch.einsum("bci,bcj->bij", a, b) / temperature  # (B, t, t or 2t)
    labels = torch.arange(t, device=x_rgb.device).repeat(B)  # (B*t,): row i -> column i
    return cross_entropy_top1(logits.flatten(0, 1), labels)
