"""Per-frame motion statistics for Motion Differential Sampling (docs/mscl.md §4, steps 1-4).

For every flow frame j of a video: a motion map M (how sharply the flow changes in space),
an attention map A (M pooled into blocks, so regions with moving boundaries weigh more),
the attention-weighted colour-coded flow W_j, and the differential score
s_j = mean over pixels of ||W_j - W_{j+1}||_2. Frames are processed as one batch on whatever
device the flow lives on.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mscl.flow.colorwheel import flow_to_color, normalize_per_frame


def sobel(image: Tensor) -> Tensor:
    """Sobel derivatives with the same definition as ``scipy.ndimage.sobel`` (mode 'reflect').

    Args:
        image: (N, H, W) float.

    Returns:
        (N, 2, H, W): channel 0 = d/dx (``axis=-1``), channel 1 = d/dy (``axis=0`` of a frame).
        Unnormalised: a ramp rising by 1 per pixel gives 8 inside the frame.
    """
    d = torch.tensor([-1.0, 0.0, 1.0], dtype=image.dtype, device=image.device)
    s = torch.tensor([1.0, 2.0, 1.0], dtype=image.dtype, device=image.device)
    # conv2d correlates (no flip), as scipy's correlate1d does: out[x] = in[x+1] - in[x-1].
    kernels = torch.stack([torch.outer(s, d), torch.outer(d, s)]).unsqueeze(1)   # (2, 1, 3, 3)
    # scipy's 'reflect' repeats the edge sample (d c b a | a b c d); for a 1-pixel border
    # that is torch's 'replicate', not torch's 'reflect' (which is scipy's 'mirror').
    padded = F.pad(image.unsqueeze(1), (1, 1, 1, 1), mode="replicate")          # (N, 1, H+2, W+2)
    return F.conv2d(padded, kernels)


def motion_map(flow: Tensor) -> Tensor:
    """Magnitude of the spatial gradient of both flow components (§4 step 1).

    Args:
        flow: (T, 2, H, W) float, pixels.

    Returns:
        (T, H, W): sqrt(ux^2 + uy^2 + vx^2 + vy^2), zero wherever the flow is locally uniform.
    """
    T, _, H, W = flow.shape
    grads = sobel(flow.reshape(T * 2, H, W)).reshape(T, 4, H, W)   # (u_x, u_y, v_x, v_y)
    return torch.linalg.vector_norm(grads, dim=1)


def attention_map(motion: Tensor, block: int) -> Tensor:
    """Block-averaged motion map, upsampled back and scaled to max 1 (§4 step 2).

    Args:
        motion: (T, H, W) motion map.
        block: side of the square pooling blocks (28 in MSCL); a block larger than the
            frame is clamped to min(H, W) so tiny frames get one block per short side.

    Returns:
        (T, H, W) in [0, 1]. A frame whose motion map is zero everywhere (uniform flow) gets
        zero attention (the reference divides 0 by 0 there).
    """
    T, H, W = motion.shape
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    b = min(block, H, W)
    pooled = F.avg_pool2d(motion.unsqueeze(1), kernel_size=b, stride=b)         # (T, 1, H//b, W//b)
    a = F.interpolate(pooled, size=(H, W), mode="bilinear", align_corners=False)[:, 0]
    peak = a.amax(dim=(-2, -1), keepdim=True)                                  # (T, 1, 1)
    return a / peak.clamp_min(torch.finfo(a.dtype).tiny)


def weighted_color_maps(flow: Tensor, block: int) -> Tensor:
    """Attention-weighted colour-coded flow W_j = A_j * C_j (§4 step 3).

    Args:
        flow: (T, 2, H, W) float, pixels.
        block: attention pooling block, see :func:`attention_map`.

    Returns:
        (T, 3, H, W) float on the 0..255 colour scale of the reference.
    """
    flow = flow if flow.is_floating_point() else flow.float()
    A = attention_map(motion_map(flow), block)                 # (T, H, W)
    C = 255 * flow_to_color(normalize_per_frame(flow))         # (T, 3, H, W)
    return A.unsqueeze(1) * C


def frame_differential_scores(flow: Tensor, block: int = 28) -> Tensor:
    """Motion-differential score s_j of every flow frame (§4 step 4).

    Args:
        flow: (T, 2, H, W) float, pixels; a flow clip ``(2, T, H, W)`` needs ``movedim(0, 1)``.
        block: attention pooling block, see :func:`attention_map`.

    Returns:
        (T,) s_j = mean_pixels ||W_j - W_{j+1}||_2 over colour channels; the last frame is
        paired with itself, so s_{T-1} = 0.
    """
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(f"expected flow of shape (T, 2, H, W), got {tuple(flow.shape)}")
    if flow.shape[0] == 0:
        return flow.new_zeros(0, dtype=torch.float32)
    Wc = weighted_color_maps(flow, block)                      # (T, 3, H, W)
    D = torch.linalg.vector_norm(Wc[:-1] - Wc[1:], dim=1)      # (T-1, H, W)
    s = D.mean(dim=(-2, -1))                                   # (T-1,)
    return torch.cat([s, s.new_zeros(1)])
