"""The DCLR model: terms, gradients, queues, key momentum, top-k positives, both backbones."""
import pytest
import torch

from mscl.losses.dclr import TERMS
from mscl.models.momentum import momentum_copy
from mscl.pretrain.dclr import DCLR

B, K, T = 4, 16, 4
ALL = {name: 1.0 for name in TERMS}


def _model(**kw) -> DCLR:
    torch.manual_seed(0)
    return DCLR(**{"weights": ALL, "width": 8, "queue_size": K, **kw})


def _clips(seed: int = 1, static_frames: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    rgb = {n: torch.randn(B, 3, T, 32, 32, generator=g) for n in ("rgb_q", "rgb_k")}
    return rgb | {n: torch.randn(B, 3, static_frames, 32, 32, generator=g) for n in ("static_q", "static_k")}


def _step(model: DCLR, clips: dict, m: float = 0.99) -> dict[str, torch.Tensor]:
    return model(**clips, m_rgb=m)


def test_five_finite_terms_with_top1_and_every_query_parameter_gets_a_gradient():
    model = _model()
    losses = _step(model, _clips())
    assert list(losses) == list(TERMS) and list(model.top1) == list(TERMS)
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    assert all(0 <= float(t) <= 1 for t in model.top1.values())
    sum(losses.values()).backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert ".encoder_k." in name or ".head_k." in name, name


def test_a_zero_weight_removes_its_term_and_the_queue_only_it_reads():
    model = _model(weights={**ALL, "dclr_vv": 0.0})
    before = model.queues["vv"].queue.clone()
    losses = _step(model, _clips())
    assert "dclr_vv" not in losses and set(losses) == set(TERMS) - {"dclr_vv"}
    assert torch.equal(model.queues["vv"].queue, before)  # no term reads it: nothing enqueued
    assert int(model.queues["s"].ptr) == B  # the other queues advance in step
    with pytest.raises(ValueError, match="disabled"):
        _model(weights={n: 0.0 for n in TERMS})


def test_scaled_weight_scales_its_term():
    one, two = _step(_model(), _clips()), _step(_model(weights={**ALL, "dclr_sv": 2.0}), _clips())
    torch.testing.assert_close(two["dclr_sv"], 2 * one["dclr_sv"])
    torch.testing.assert_close(two["dclr_vd"], one["dclr_vd"])


def test_key_nets_follow_the_query_nets_with_the_given_momentum():
    model = _model()
    with torch.no_grad():
        for p in model.nets.encoder_q.parameters():
            p.add_(0.1)
    key_before = momentum_copy(model.nets.encoder_k)
    _step(model, _clips(), m=0.9)
    for k0, k1, q in zip(key_before.parameters(), model.nets.encoder_k.parameters(), model.nets.encoder_q.parameters()):
        torch.testing.assert_close(k1, 0.9 * k0 + 0.1 * q)


def test_static_view_of_one_frame_equals_the_repeated_frame():
    clips = _clips()
    repeated = dict(clips, static_q=clips["static_q"].expand(-1, -1, T, -1, -1).clone(),
                    static_k=clips["static_k"].expand(-1, -1, T, -1, -1).clone())
    a, b = _step(_model(), clips), _step(_model(), repeated)
    for name in TERMS:
        torch.testing.assert_close(a[name], b[name])


def test_topk_positives_lower_the_loss_and_keep_the_top1():
    plain, mined = _model(), _model(topk=3)
    for seed in (1, 2, 3):  # fill the queues first
        lp, lm = _step(plain, _clips(seed)), _step(mined, _clips(seed))
    assert all(lm[n] <= lp[n] + 1e-6 for n in TERMS)  # more positives: a larger share of the softmax
    assert plain.top1 == mined.top1 or all(torch.equal(plain.top1[n], mined.top1[n]) for n in TERMS)
    with pytest.raises(ValueError, match="below the queue size"):
        _model(topk=K)


@pytest.mark.parametrize("backbone", ["r3d_18", "r2plus1d_18"])
def test_either_backbone_trains_and_is_the_kept_network(backbone):
    model = _model(backbone=backbone)
    sum(_step(model, _clips()).values()).backward()
    assert model.backbone is model.nets.encoder_q
    assert type(model.backbone).__name__ == {"r3d_18": "R3D18", "r2plus1d_18": "R2Plus1D18"}[backbone]
