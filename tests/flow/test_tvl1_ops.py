"""Building blocks of the PyTorch TV-L1 against OpenCV's primitives and hand-computed cases."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from mscl.flow.tvl1_ops import (
    centered_gradient,
    divergence,
    forward_gradient,
    primal_dual_step,
    resize_linear,
    threshold_step,
    warp,
)

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture
def image() -> np.ndarray:
    return (np.random.default_rng(0).random((37, 45)) * 255).astype(np.float32)


def test_resize_linear_matches_cv2_pyramid_step_and_upsampling(image):
    down = cv2.resize(image, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)  # (30, 36)
    ours = resize_linear(torch.from_numpy(image)[None], down.shape, (1 / 0.8, 1 / 0.8))[0]
    np.testing.assert_allclose(ours.numpy(), down, atol=1e-3)
    up = cv2.resize(down, image.shape[::-1], interpolation=cv2.INTER_LINEAR)
    H, W = image.shape
    ours = resize_linear(torch.from_numpy(down)[None], (H, W), (down.shape[0] / H, down.shape[1] / W))[0]
    np.testing.assert_allclose(ours.numpy(), up, atol=1e-3)


def test_centered_gradient_of_a_quadratic():
    y, x = torch.meshgrid(torch.arange(4.0), torch.arange(5.0), indexing="ij")
    Ix, Iy = centered_gradient((x**2 + 3 * y)[None])
    # inside: (f(x+1) - f(x-1)) / 2 = 2x; at the borders half of the one-sided difference
    np.testing.assert_allclose(Ix[0, 0], [0.5, 2, 4, 6, 3.5])
    np.testing.assert_allclose(Iy[0, :, 0], [1.5, 3, 3, 1.5])


def test_divergence_is_minus_adjoint_of_forward_gradient():
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(2, 3, 9, 11, generator=gen, dtype=torch.float64)
    p = torch.randn(2, 3, 2, 9, 11, generator=gen, dtype=torch.float64)
    p[:, :, 0, :, -1] = 0  # the dual update keeps p where the gradient is zero: last column of
    p[:, :, 1, -1, :] = 0  # p_x, last row of p_y
    assert torch.allclose((torch.stack(forward_gradient(u), dim=2) * p).sum(), -(u * divergence(p)).sum())


def test_forward_gradient_is_zero_on_last_column_and_row():
    ux, uy = forward_gradient(torch.arange(12.0).reshape(1, 1, 3, 4))
    np.testing.assert_array_equal(ux[0, 0].numpy(), [[1, 1, 1, 0]] * 3)
    np.testing.assert_array_equal(uy[0, 0].numpy(), [[4] * 4, [4] * 4, [0] * 4])


@pytest.mark.parametrize(("mode", "flag"), [("bicubic", cv2.INTER_CUBIC), ("bilinear", cv2.INTER_LINEAR)])
def test_warp_matches_cv2_remap_with_zero_border(image, mode, flag):
    H, W = image.shape
    flow = np.random.default_rng(1).normal(0, 3, (2, H, W)).astype(np.float32)  # reaches outside
    xs, ys = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    expected = cv2.remap(image, xs + flow[0], ys + flow[1], flag, borderMode=cv2.BORDER_CONSTANT)
    ours = warp(torch.from_numpy(image)[None, None], torch.from_numpy(flow)[None], mode)[0, 0]
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-3)
    same = warp(torch.from_numpy(image)[None, None], torch.zeros(1, 2, H, W), mode)[0, 0]
    assert torch.equal(same, torch.from_numpy(image))


def test_threshold_step_three_cases():
    # |grad I|^2 = 1 along x; l_t = 0.1. rho = -1: step +l_t; rho = 1: step -l_t; rho = 0.05: -rho.
    dI = torch.tensor([1.0, 0.0]).reshape(1, 2, 1, 1).expand(3, 2, 1, 1)
    rho_c = torch.tensor([-1.0, 1.0, 0.05]).reshape(3, 1, 1, 1)
    v = threshold_step(torch.zeros(3, 2, 1, 1), dI, torch.ones(3, 1, 1, 1), rho_c, l_t=0.1)
    np.testing.assert_allclose(v[:, 0, 0, 0], [0.1, -0.1, -0.05], rtol=1e-6)
    assert torch.all(v[:, 1] == 0)


def test_primal_dual_step_freezes_each_pair_when_it_converges():
    gen = torch.Generator().manual_seed(0)
    B, H, W = 2, 12, 14
    dI = torch.randn(B, 2, H, W, generator=gen) * 10
    grad = dI.square().sum(1, keepdim=True)
    rho_c = torch.randn(B, 1, H, W, generator=gen) * 20
    rho_c[0] = 0  # pair 0 already fits: its first update is zero, so it stops at once
    kw = dict(l_t=0.045, theta=0.3, taut=0.25 / 0.3, eps=1e-4 * H * W)

    def iterate(u, p, active, rows, steps):
        for _ in range(steps):
            u, p, active = primal_dual_step(u, p, active, dI[rows], grad[rows], rho_c[rows], **kw)
        return u, p, active

    u0, p0, act = torch.zeros(B, 2, H, W), torch.zeros(B, 2, 2, H, W), torch.ones(B, dtype=torch.bool)
    u, p, active = iterate(u0, p0, act, slice(None), 6)
    assert active.tolist() == [False, True]
    for b, steps in [(0, 1), (1, 6)]:
        rows = slice(b, b + 1)
        ub, pb, _ = iterate(u0[rows], p0[rows], act[rows], rows, steps)
        assert torch.equal(ub[0], u[b]) and torch.equal(pb[0], p[b])
