import math

import pytest
import torch

from mscl.losses.lmcl import local_motion_contrast, temporal_descriptors


def _cols(*cols):
    """(1, C, t) from column vectors."""
    return torch.tensor(cols, dtype=torch.float32).T.unsqueeze(0)


def test_hand_computed_without_rotation():
    T = 0.5
    x_rgb = _cols([1, 0], [0, 1])
    x_flow = _cols([2, 0], [0, 3])  # norms do not matter
    # similarity rows [1, 0] and [0, 1]: each row -log(e^2 / (e^2 + 1))
    expected = math.log(1 + math.exp(-2.0))
    assert math.isclose(local_motion_contrast(x_rgb, x_flow, None, T)[0].item(), expected, rel_tol=1e-6)


def test_hand_computed_with_rotated_negatives():
    T = 0.5
    x_rgb = _cols([1, 0], [0, 1])
    x_flow = _cols([1, 0], [0, 1])
    x_rot = _cols([0, 1], [-1, 0])
    # row 0 sims [1, 0 | 0, -1], row 1 sims [0, 1 | 1, 0]; target = own time step
    e = math.exp
    row0 = -math.log(e(2) / (e(2) + 1 + 1 + e(-2)))
    row1 = -math.log(e(2) / (1 + e(2) + e(2) + 1))
    got = local_motion_contrast(x_rgb, x_flow, x_rot, T)[0].item()
    assert math.isclose(got, (row0 + row1) / 2, rel_tol=1e-6)


def test_matches_cross_entropy_per_clip_and_step():
    torch.manual_seed(0)
    a, b, c = torch.randn(3, 5, 4), torch.randn(3, 5, 4), torch.randn(3, 5, 4)
    an, bn = a / a.norm(dim=1, keepdim=True), torch.cat([b, c], 2) / torch.cat([b, c], 2).norm(dim=1, keepdim=True)
    rows = [(-(an[i, :, s] @ bn[i] / 0.1).log_softmax(0)[s]) for i in range(3) for s in range(4)]
    torch.testing.assert_close(local_motion_contrast(a, b, c, 0.1)[0], torch.stack(rows).mean())


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        local_motion_contrast(torch.randn(2, 4, 4), torch.randn(2, 4, 8), None, 0.1)


def test_temporal_descriptors_pool_space_only():
    x = torch.arange(2 * 3 * 4 * 2 * 2, dtype=torch.float32).view(2, 3, 4, 2, 2)
    d = temporal_descriptors(x)
    assert d.shape == (2, 3, 4)
    torch.testing.assert_close(d[1, 2, 3], x[1, 2, 3].mean())


def test_loss_under_bf16_autocast_equals_the_float32_loss():
    naive_errors = []
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        x_rgb = torch.randn(1, 128, 4, generator=g)
        x_flow = x_rgb + 0.5 * torch.randn(1, 128, 4, generator=g)  # aligned steps: similarities near 1
        x_other = x_rgb.roll(1, dims=2) + 0.5 * torch.randn(1, 128, 4, generator=g)
        exact = local_motion_contrast(x_rgb, x_flow, x_other, 0.07)[0]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = local_motion_contrast(x_rgb, x_flow, x_other, 0.07)[0]
            a = torch.nn.functional.normalize(x_rgb, dim=1)
            b = torch.nn.functional.normalize(torch.cat([x_flow, x_other], 2), dim=1)
            logits = torch.bmm(a.transpose(1, 2), b) / 0.07  # autocast's own choice: bf16 products
            naive = torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch.arange(4))
        assert abs(mixed.item() - exact.item()) <= 1e-3 * exact.item()
        naive_errors.append(abs(naive.item() - exact.item()) / exact.item())
    assert max(naive_errors) > 3e-3  # the check above has power


def test_top1_counts_rows_whose_own_step_scores_highest():
    x_rgb = _cols([1, 0], [0, 1])
    _, right = local_motion_contrast(x_rgb, _cols([1, 0], [0, 1]), None, 0.5)
    _, swapped = local_motion_contrast(x_rgb, _cols([0, 1], [1, 0]), None, 0.5)
    _, half = local_motion_contrast(x_rgb, _cols([1, 0], [0, 1]), _cols([0, 1], [0, 0.5]), 0.5)
    # with the second clip: row 0 still wins at its own step (1 vs 0, 0); row 1 ties 1 with
    # the second clip's step 0 (argmax takes the first: its own step) -> both right
    assert right.item() == 1.0 and swapped.item() == 0.0 and half.item() == 1.0
