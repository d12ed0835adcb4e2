import math

import torch

from mscl.models.pyramid import FeaturePyramid, PConv3D, top_down_merge


def _stages(B=2, w=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    # [layer2, layer3, layer4] of R3D at width w on an 8x32x32 clip
    return [torch.randn(B, 2 * w, 4, 8, 8, generator=g), torch.randn(B, 4 * w, 2, 4, 4, generator=g),
            torch.randn(B, 8 * w, 1, 2, 2, generator=g)]


def test_output_shapes_keep_resolutions():
    torch.manual_seed(0)
    neck = FeaturePyramid([16, 32, 64], 16)
    outs = neck(_stages())
    assert [tuple(o.shape) for o in outs] == [(2, 16, 4, 8, 8), (2, 16, 2, 4, 4), (2, 16, 1, 2, 2)]
    assert all((o >= 0).all() for o in outs)  # SEPC ends with ReLU


def test_finest_level_only_equals_full_computation():
    torch.manual_seed(0)
    neck = FeaturePyramid([16, 32, 64], 16)
    xs = _stages()
    full = neck(xs)
    finest = neck(xs, levels=1)
    assert len(finest) == 1
    torch.testing.assert_close(finest[0], full[0])


def test_top_down_merge_adds_every_coarser_level():
    a, b, c = torch.full((1, 1, 2, 4, 4), 1.0), torch.full((1, 1, 1, 2, 2), 10.0), torch.full((1, 1, 1, 1, 1), 100.0)
    m0, m1, m2 = top_down_merge([a, b, c])
    assert torch.all(m0 == 111.0) and torch.all(m1 == 110.0) and torch.all(m2 == 100.0)
    assert m0.shape == a.shape and m1.shape == b.shape


def test_pconv_mixes_each_level_with_its_neighbours():
    # zero kernels and distinct biases: out_l = relu(b_mid + [l>0] b_down + [l<last] b_up)
    p = PConv3D(1)
    for conv, bias in ((p.conv_up, 1.0), (p.conv_mid, 10.0), (p.conv_down, 100.0)):
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.constant_(conv.bias, bias)
    xs = [torch.randn(1, 1, 4, 8, 8), torch.randn(1, 1, 2, 4, 4), torch.randn(1, 1, 1, 2, 2)]
    outs = p(xs)
    for out, x, value in zip(outs, xs, (11.0, 111.0, 110.0)):
        assert out.shape == x.shape
        torch.testing.assert_close(out, torch.full_like(x, value))


def test_xavier_init_zero_bias():
    torch.manual_seed(0)
    neck = FeaturePyramid([16, 32, 64], 16)
    for conv in [*neck.lateral_convs, *neck.fpn_convs, neck.pconvs[0].conv_mid]:
        w = conv.weight
        receptive = w[0, 0].numel()
        bound = math.sqrt(6.0 / (w.shape[1] * receptive + w.shape[0] * receptive))
        assert w.abs().max() <= bound and w.abs().max() > 0.5 * bound
        assert torch.all(conv.bias == 0)


def test_finest_level_gradients():
    torch.manual_seed(0)
    neck = FeaturePyramid([16, 32, 64], 16)
    neck(_stages(), levels=1)[0].sum().backward()
    unused = {id(p) for p in neck.pconvs[-1].conv_down.parameters()}  # only feeds coarser levels
    for name, p in neck.named_parameters():
        if id(p) in unused:
            assert p.grad is None, name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
