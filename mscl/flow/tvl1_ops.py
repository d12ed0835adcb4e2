"""Batched building blocks of TV-L1 optical flow, as pure functions of tensors.

Each function follows the discretisation of OpenCV's ``DualTVL1OpticalFlow`` (after Zach, Pock
and Bischof 2007; Sanchez, Meinhardt-Llopis and Facciolo, IPOL 2013), so that the solver in
:mod:`mscl.flow.tvl1_torch` reproduces OpenCV's output. Shapes: ``B`` pairs, ``C`` flow
channels (2, or 3 when the illumination term ``gamma`` is on), ``H x W`` pixels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mscl.flow.median import median_filter

# OpenCV divides by |grad I1|^2 only above float32's machine epsilon.
FLT_EPSILON = float(torch.finfo(torch.float32).eps)


def _linear_taps(n_out: int, n_in: int, src_per_dst: float, device: torch.device):
    """Left/right input indices ``(n_out,)`` and right weights of a half-pixel-centred 1-D resize.

    Output sample ``i`` reads input position ``(i + 0.5) * src_per_dst - 0.5``, clamped to the
    edge pixels, which is how ``cv2.resize(..., INTER_LINEAR)`` samples.
    """
    x = ((torch.arange(n_out, device=device, dtype=torch.float64) + 0.5) * src_per_dst - 0.5).clamp(0, n_in - 1)
    lo = x.floor().long()
    return lo, (lo + 1).clamp(max=n_in - 1), (x - lo).float()


def resize_linear(x: Tensor, size: tuple[int, int], src_per_dst: tuple[float, float]) -> Tensor:
    """Bilinear resize of ``(..., H, W)`` to ``(..., h, w)``, one axis after the other.

    ``src_per_dst`` is the (y, x) step in input pixels per output pixel: OpenCV uses
    ``1 / scale_step`` when building the pyramid and the size ratio when upsampling flow.
    Two-tap gathers rather than interpolation matrices: exact in float32 even where matrix
    products would run in TF32.
    """
    lo, hi, f = _linear_taps(size[0], x.shape[-2], src_per_dst[0], x.device)
    x = x.index_select(-2, lo) * (1 - f)[:, None] + x.index_select(-2, hi) * f[:, None]  # (..., h, W)
    lo, hi, f = _linear_taps(size[1], x.shape[-1], src_per_dst[1], x.device)
    return x.index_select(-1, lo) * (1 - f) + x.index_select(-1, hi) * f  # (..., h, w)


def centered_gradient(img: Tensor) -> tuple[Tensor, Tensor]:
    """Half central differences of ``(B, H, W)`` with replicated borders -> ``(Ix, Iy)``."""
    pad = F.pad(img[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]  # (B, H+2, W+2)
    Ix = 0.5 * (pad[:, 1:-1, 2:] - pad[:, 1:-1, :-2])
    Iy = 0.5 * (pad[:, 2:, 1:-1] - pad[:, :-2, 1:-1])
    return Ix, Iy


def forward_gradient(u: Tensor) -> tuple[Tensor, Tensor]:
    """Forward differences ``(ux, uy)`` of ``(B, C, H, W)``, zero on the last column/row."""
    ux = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1))
    uy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return ux, uy


def divergence(p: Tensor) -> Tensor:
    """Backward-difference divergence of ``(B, C, 2, H, W)`` with ``p = 0`` outside -> ``(B, C, H, W)``.

    It is minus the adjoint of :func:`forward_gradient` on duals that vanish where that gradient
    does (last column of ``p_x``, last row of ``p_y``), which the dual update preserves.
    """
    px, py = p[:, :, 0], p[:, :, 1]
    return px - F.pad(px[..., :, :-1], (1, 0)) + py - F.pad(py[..., :-1, :], (0, 0, 1, 0))


def cubic_weights(t: Tensor) -> Tensor:
    """Keys cubic weights (a = -0.75, OpenCV's INTER_CUBIC) of taps -1, 0, 1, 2 at offset ``t`` -> ``(4, *t.shape)``."""
    a = -0.75

    def near(d: Tensor) -> Tensor:  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: Tensor) -> Tensor:  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return torch.stack((far(t + 1), near(t), near(1 - t), far(2 - t)))


def warp(images: Tensor, flow: Tensor, mode: str) -> Tensor:
    """Sample ``images`` ``(B, K, H, W)`` at ``x + flow(x)``, zero outside, like ``cv2.remap``.

    Taps are gathered at integer pixel indices, so a zero flow returns ``images`` exactly
    (``grid_sample``'s normalised coordinates would not, and that residual seeds spurious flow).

    Args:
        flow: ``(B, 2, H, W)`` displacement in pixels (u, v).
        mode: ``"bicubic"`` (OpenCV's ``INTER_CUBIC``) or ``"bilinear"``.
    Returns:
        ``(B, K, H, W)``.
    """
    B, K, H, W = images.shape
    ys, xs = torch.meshgrid(torch.arange(H, device=flow.device), torch.arange(W, device=flow.device), indexing="ij")
    # Beyond 2 px outside every tap is outside; the clamp keeps NaN/huge values off the int cast.
    x = (xs + flow[:, 0]).clamp(-3, W + 2)  # (B, H, W)
    y = (ys + flow[:, 1]).clamp(-3, H + 2)
    x0, y0 = x.floor(), y.floor()
    if mode == "bicubic":
        wx, wy, first = cubic_weights(x - x0), cubic_weights(y - y0), -1  # (4, B, H, W)
    else:
        wx, wy, first = torch.stack((x0 + 1 - x, x - x0)), torch.stack((y0 + 1 - y, y - y0)), 0
    x0, y0 = x0.long() + first, y0.long() + first
    flat = images.flatten(2)  # (B, K, H*W)
    out = torch.zeros_like(images)
    for i in range(len(wy)):
        yi = y0 + i
        for j in range(len(wx)):
            xi = x0 + j
            inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)  # (B, H, W)
            idx = (yi.clamp(0, H - 1) * W + xi.clamp(0, W - 1)).flatten(1)  # (B, H*W)
            taps = flat.gather(2, idx[:, None].expand(B, K, H * W)).view(B, K, H, W)
            out += (wy[i] * wx[j] * inside)[:, None] * taps
    return out


def linearize(
    I0: Tensor, I1: Tensor, Ix: Tensor, Iy: Tensor, u: Tensor, *, mode: str, gamma: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Warp I1 and its gradient by the flow ``u`` and linearise ``I1(x + u) - I0(x)`` around it.

    Args:
        I0, I1, Ix, Iy: ``(B, H, W)`` images and the centred gradient of I1.
        u: ``(B, C, H, W)`` flow (C = 3 carries the illumination variable of ``gamma``).
        mode: warping interpolation, ``"bicubic"`` or ``"bilinear"``.
    Returns:
        ``dI`` ``(B, C, H, W)``, ``grad`` ``(B, 1, H, W)`` and ``rho_c`` ``(B, 1, H, W)`` as
        :func:`threshold_step` takes them.
    """
    warped = warp(torch.stack((I1, Ix, Iy), dim=1), u[:, :2], mode)  # (B, 3, H, W)
    I1w, I1wx, I1wy = warped[:, 0:1], warped[:, 1:2], warped[:, 2:3]
    grad = (I1wx.square() + I1wy.square()).clamp_min(FLT_EPSILON)
    rho_c = I1w - I1wx * u[:, 0:1] - I1wy * u[:, 1:2] - I0[:, None]
    dI = [I1wx, I1wy] + ([torch.full_like(I1wx, gamma)] if u.shape[1] == 3 else [])
    return torch.cat(dI, dim=1), grad, rho_c


def median_filter_active(u: Tensor, active: Tensor, k: int) -> Tensor:
    """``k x k`` median of the (u, v) channels of ``(B, C, H, W)`` for the ``active`` ``(B,)`` pairs only."""
    smooth = torch.cat((median_filter(u[:, :2], k), u[:, 2:]), dim=1)
    return torch.where(active[:, None, None, None], smooth, u)


def threshold_step(u: Tensor, dI: Tensor, grad: Tensor, rho_c: Tensor, l_t: float) -> Tensor:
    """Pointwise minimiser ``v`` of the linearised data term (the TH operator of Zach et al.).

    Args:
        u: ``(B, C, H, W)`` current flow (plus illumination channel when C = 3).
        dI: ``(B, C, H, W)`` warped gradient of I1 (``gamma`` in the illumination channel).
        grad: ``(B, 1, H, W)`` ``|grad I1w|^2`` floored at ``FLT_EPSILON``.
        rho_c: ``(B, 1, H, W)`` residual ``I1w - I0`` extrapolated to ``u = 0``.
        l_t: ``lambda * theta``.
    Returns:
        ``v`` ``(B, C, H, W)``.
    """
    rho = rho_c  # (B, 1, H, W) linearised residual; a sum over dim 1 would be a reduction kernel
    for c in range(u.shape[1]):
        rho = rho + dI[:, c : c + 1] * u[:, c : c + 1]
    # The three cases of the shrinkage (step -rho/|grad|^2 if it is within +-l_t, else +-l_t)
    # are one clamp. With grad floored at FLT_EPSILON this equals OpenCV's branches except where
    # |rho| < l_t * FLT_EPSILON, i.e. where the residual is already zero to float precision.
    coef = (-rho / grad).clamp(-l_t, l_t)
    return torch.addcmul(u, coef, dI)


def primal_dual_step(
    u: Tensor, p: Tensor, active: Tensor, dI: Tensor, grad: Tensor, rho_c: Tensor, *,
    l_t: float, theta: float, taut: float, eps: Tensor | float,
) -> tuple[Tensor, Tensor, Tensor]:
    """One primal-dual iteration; pairs that are not ``active`` stay frozen.

    ``v = TH(u)``; ``u' = v + theta div p``; ``p' = (p + taut grad u') / (1 + taut |grad u'|)``.
    A pair stops (``active`` -> False) after the iteration whose squared update
    ``sum |u' - u|^2`` is ``<= eps``, exactly as OpenCV's per-pair loop stops. Compiled, one
    iteration is a few fused kernels that write only ``u'``, ``p'`` and the per-pair sums.

    Args:
        u: ``(B, C, H, W)``; p: ``(B, C, 2, H, W)`` dual variable; active: ``(B,)`` bool;
        dI, grad, rho_c: as in :func:`threshold_step`.
    Returns:
        updated ``(u, p, active)``.
    """
    keep = active[:, None, None, None]  # (B, 1, 1, 1)
    # Masking u here (not after the dual step) lets a fused kernel write u once; the frozen
    # pairs then have a zero update, so their `active` stays False.
    u_new = torch.where(keep, threshold_step(u, dI, grad, rho_c, l_t) + theta * divergence(p), u)
    err = (u_new - u).square().sum(dim=(1, 2, 3))  # (B,)
    ux, uy = forward_gradient(u_new)  # (B, C, H, W) each
    # Two planes, masked before stacking: a stacked gradient or dual would go through memory.
    norm = 1.0 + taut * torch.hypot(ux, uy)
    px = torch.where(keep, (p[:, :, 0] + taut * ux) / norm, p[:, :, 0])
    py = torch.where(keep, (p[:, :, 1] + taut * uy) / norm, p[:, :, 1])
    return u_new, torch.stack((px, py), dim=2), active & (err > eps)
