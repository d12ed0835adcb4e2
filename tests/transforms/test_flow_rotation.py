import math

import pytest
import torch

from mscl.transforms.flow_rotation import fra_angle, fra_angle_index, flow_rotation


def _field(u: float, v: float, T: int = 2, H: int = 3, W: int = 4) -> torch.Tensor:
    """Uniform flow (2, T, H, W) with every vector equal to (u, v)."""
    return torch.tensor([u, v], dtype=torch.float32).reshape(2, 1, 1, 1).expand(2, T, H, W).clone()


def test_rotation_by_known_angles():
    # a rightward vector turned by pi/2 points down (+v), by pi it points left
    assert torch.allclose(flow_rotation(_field(1, 0), math.pi / 2), _field(0, 1), atol=1e-6)
    assert torch.allclose(flow_rotation(_field(1, 0), math.pi), _field(-1, 0), atol=1e-6)
    # (1, 2) by pi/3: u' = 0.5 - 2 * sqrt(3)/2, v' = sqrt(3)/2 + 2 * 0.5
    expected = _field(0.5 - math.sqrt(3), math.sqrt(3) / 2 + 1)
    assert torch.allclose(flow_rotation(_field(1, 2), math.pi / 3), expected, atol=1e-6)


def test_magnitude_preserved():
    flow = torch.randn(3, 2, 4, 6, 5, generator=torch.Generator().manual_seed(0))
    beta = torch.tensor([0.3, 2.0, 5.1])
    out = flow_rotation(flow, beta)
    assert torch.allclose(out.norm(dim=1), flow.norm(dim=1), atol=1e-5)
    assert not torch.allclose(out, flow, atol=1e-3)


def test_two_quarter_turns_equal_half_turn():
    flow = torch.randn(2, 4, 5, 5, generator=torch.Generator().manual_seed(1))
    twice = flow_rotation(flow_rotation(flow, math.pi / 2), math.pi / 2)
    assert torch.allclose(twice, flow_rotation(flow, math.pi), atol=1e-6)
    assert torch.allclose(twice, -flow, atol=1e-6)


def test_full_turn_is_identity():
    flow = torch.randn(2, 4, 5, 5, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(flow_rotation(flow, 2 * math.pi), flow, atol=1e-5)


def test_batch_uses_one_angle_per_clip():
    g = torch.Generator().manual_seed(3)
    flow = torch.randn(4, 2, 3, 5, 6, generator=g)
    beta = fra_angle(fra_angle_index(g, (4,)))
    out = flow_rotation(flow, beta)
    assert out.shape == flow.shape and out.dtype == flow.dtype
    for b in range(4):
        assert torch.allclose(out[b], flow_rotation(flow[b], float(beta[b])), atol=1e-6)
    # the angle is shared by all frames of a clip: a static field stays static after rotation
    static = _field(0.7, -0.2, T=3).expand(4, 2, 3, 3, 4)
    rotated = flow_rotation(static, beta)
    assert torch.allclose(rotated, rotated[:, :, :1].expand_as(rotated))


def test_fra_angle_set_is_literal():
    assert fra_angle(0) == pytest.approx(0.2 * math.pi)
    assert fra_angle(7) == pytest.approx(1.6 * math.pi)
    angles = fra_angle(torch.arange(8))
    assert torch.allclose(angles, torch.linspace(0.2, 1.6, 8, dtype=torch.float64) * math.pi)


def test_fra_angle_index_range_and_determinism():
    cid = fra_angle_index(torch.Generator().manual_seed(4), (800,))
    assert cid.dtype == torch.long
    assert set(cid.tolist()) == set(range(8))  # 0..7 all reached, 8 (1.8 pi) never
    again = fra_angle_index(torch.Generator().manual_seed(4), (800,))
    assert torch.equal(cid, again)
    assert fra_angle_index(torch.Generator().manual_seed(4)).shape == ()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    flow = torch.randn(2, 2, 3, 4, 4)
    beta = torch.tensor([0.5, 1.5])
    out = flow_rotation(flow.cuda(), beta.cuda())
    assert out.is_cuda
    assert torch.allclose(out.cpu(), flow_rotation(flow, beta), atol=1e-6)
