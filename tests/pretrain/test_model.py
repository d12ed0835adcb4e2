import copy

import pytest
import torch

from mscl.losses.infonce import info_nce
from mscl.losses.objective import ROTATED_TERMS, TERMS
from mscl.pretrain.model import MSCL

B, K = 4, 16


def _model(**kw) -> MSCL:
    torch.manual_seed(0)
    kw = {"width": 8, "flow_width": 8, "queue_size": K, **kw}
    return MSCL(**kw)


def _clips(seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    names = ("rgb_q", "rgb_k", "flow_q", "flow_k", "flow_q_rot", "flow_k_rot")
    return {n: torch.rand(B, 3, 8, 32, 32, generator=g) for n in names}


def _step(model: MSCL, clips: dict, m: float = 0.99, **drop) -> dict[str, torch.Tensor]:
    clips = {n: (None if n in drop else x) for n, x in clips.items()}
    rgb_q, rgb_k = clips.pop("rgb_q"), clips.pop("rgb_k")
    return model(rgb_q, rgb_k, **clips, m_rgb=m, m_flow=m)


def _perturb_queries(model: MSCL) -> None:
    """Make query and key nets differ, as after some optimiser steps."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn(p.shape, generator=g))


def test_all_terms_finite_and_every_query_parameter_gets_a_gradient():
    model = _model()
    losses = _step(model, _clips())
    assert list(losses) == list(TERMS)
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    sum(losses.values()).backward()
    # the last SEPC block's stride-2 conv only feeds coarser levels, which LMCL does not read
    unused = {id(p) for p in model.pyramid.pconvs[-1].conv_down.parameters()}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert ".encoder_k." in name or ".head_k." in name, name
            assert p.grad is None, name
        elif id(p) in unused:
            assert p.grad is None, name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_weights_scale_terms_and_zero_removes_them():
    base = _step(_model(), _clips())
    scaled = _step(_model(rgb_flow_weight=2.0, lmcl_weight=0.5), _clips())
    torch.testing.assert_close(scaled["rgb_flow"], 2.0 * base["rgb_flow"])
    torch.testing.assert_close(scaled["lmcl"], 0.5 * base["lmcl"])
    torch.testing.assert_close(scaled["rgb_moco"], base["rgb_moco"])
    losses = _step(_model(flow_moco_weight=0.0), _clips())
    assert "flow_moco" not in losses and len(losses) == len(TERMS) - 1


def test_zero_weights_skip_the_rotated_flow_forward():
    model = _model(flow_rot_moco_weight=0.0, rgb_flow_rot_weight=0.0, flow_rot_rgb_weight=0.0, lmcl=False)
    assert model.pyramid is None and "flow_rot" not in model.query_streams + model.key_streams
    losses = _step(model, _clips(), flow_q_rot=True, flow_k_rot=True)  # rotated clips absent
    assert set(losses) == {"rgb_moco", "flow_moco", "rgb_flow", "flow_rgb"}


def test_fra_off_removes_rotated_terms_and_lmcl_negatives():
    model = _model(fra=False)
    losses = _step(model, _clips(), flow_q_rot=True, flow_k_rot=True)
    assert set(losses) == set(TERMS) - ROTATED_TERMS
    with_fra = _step(_model(), _clips())
    # 4-way instead of 8-way LMCL: a different value from the same initial weights
    assert not torch.isclose(losses["lmcl"], with_fra["lmcl"])


def test_moco_method_has_only_the_rgb_branch():
    model = _model(method="moco")
    assert model.flow is None and model.pyramid is None
    clips = _clips()
    losses = model(clips["rgb_q"], clips["rgb_k"], m_rgb=0.99)
    assert list(losses) == ["rgb_moco"] and torch.isfinite(losses["rgb_moco"])
    assert isinstance(model.backbone, torch.nn.Module) and model.backbone.out_dim == 64


def test_missing_inputs_raise():
    with pytest.raises(ValueError, match="flow_q_rot"):
        _step(_model(), _clips(), flow_q_rot=True)
    with pytest.raises(ValueError, match="width == flow_width"):
        _model(flow_width=16)


def test_queues_hold_this_steps_keys():
    model = _model()
    clips = _clips()
    _step(model, clips, m=1.0)  # m = 1 leaves the key nets as they were during the step
    k_rgb = model.rgb.keys(clips["rgb_k"])
    k_flow = model.flow.keys(clips["flow_k"])
    torch.testing.assert_close(model.rgb.queue.queue[:, :B], k_rgb.T, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.flow.queue.queue[:, :B], k_flow.T, atol=1e-5, rtol=1e-5)
    assert int(model.rgb.queue.ptr) == B and int(model.flow.queue.ptr) == B  # rotated keys not enqueued


@pytest.mark.parametrize("single", [False, True])
def test_momentum_update_per_step(single):
    model = _model(single_flow_momentum_update=single)
    _perturb_queries(model)
    rgb_k0 = [p.clone() for p in model.rgb.encoder_k.parameters()]
    flow_k0 = [p.clone() for p in model.flow.head_k.parameters()]
    clips = _clips()
    model(clips.pop("rgb_q"), clips.pop("rgb_k"), **clips, m_rgb=0.9, m_flow=0.8)
    for p_k, p_0, p_q in zip(model.rgb.encoder_k.parameters(), rgb_k0, model.rgb.encoder_q.parameters()):
        torch.testing.assert_close(p_k, 0.9 * p_0 + 0.1 * p_q)
    m = 0.8 if single else 0.8 * 0.8  # released: updated again before the rotated-flow keys
    for p_k, p_0, p_q in zip(model.flow.head_k.parameters(), flow_k0, model.flow.head_q.parameters()):
        torch.testing.assert_close(p_k, m * p_0 + (1 - m) * p_q)


@pytest.mark.parametrize("exclude", [False, True])
def test_terms_read_the_documented_negative_banks(exclude):
    d = 0.5  # strong age decay so that reading the wrong bank shows
    model = _model(queue_decay=d, exclude_positives_from_queue=exclude)
    _perturb_queries(model)
    clips = _clips()
    rgb_queue, flow_queue = copy.deepcopy(model.rgb.queue), copy.deepcopy(model.flow.queue)
    losses = _step(model, clips, m=1.0)
    q = {s: model.rgb.query(clips["rgb_q"])[0] if s == "rgb" else model.flow.query(clips[c])[0]
         for s, c in (("rgb", "rgb_q"), ("flow", "flow_q"), ("flow_rot", "flow_q_rot"))}
    k = {"rgb": model.rgb.keys(clips["rgb_k"]), "flow": model.flow.keys(clips["flow_k"]),
         "flow_rot": model.flow.keys(clips["flow_k_rot"])}
    before = {"rgb": rgb_queue.decayed(d), "flow": flow_queue.decayed(d)}
    flow_queue.enqueue(k["flow"])
    after = flow_queue.decayed(d)
    cross = before["flow"] if exclude else after
    expected = {
        "rgb_moco": info_nce(q["rgb"], k["rgb"], before["rgb"], 0.07),
        "flow_moco": info_nce(q["flow"], k["flow"], before["flow"], 0.07),
        "flow_rot_moco": info_nce(q["flow_rot"], k["flow_rot"], after, 0.07),
        "rgb_flow": info_nce(q["rgb"], k["flow"], cross, 0.07),
        "flow_rgb": info_nce(q["flow"], k["rgb"], before["rgb"], 0.07),
        "rgb_flow_rot": info_nce(q["rgb"], k["flow_rot"], cross, 0.07),
        "flow_rot_rgb": info_nce(q["flow_rot"], k["rgb"], before["rgb"], 0.07),
    }
    for name, value in expected.items():
        torch.testing.assert_close(losses[name], value, atol=1e-4, rtol=1e-4, msg=name)
    # the flow keys sit in the bank as age-1 columns, i.e. the positive of rgb_flow is a negative
    torch.testing.assert_close(after[:, :B], d * k["flow"].T, atol=1e-5, rtol=1e-5)
