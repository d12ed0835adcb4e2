
import pytest
import torch

from mscl.losses import objective as objective_module
from mscl.losses.objective import ROTATED_TERMS, TERMS
from mscl.pretrain.model import MSCL

from helpers import CLIP_ROLES

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
    scaled = _step(_model(weights={"rgb_flow": 2.0, "lmcl": 0.5}), _clips())
    torch.testing.assert_close(scaled["rgb_flow"], 2.0 * base["rgb_flow"])
    torch.testing.assert_close(scaled["lmcl"], 0.5 * base["lmcl"])
    torch.testing.assert_close(scaled["rgb_moco"], base["rgb_moco"])
    losses = _step(_model(weights={"flow_moco": 0.0}), _clips())
    assert "flow_moco" not in losses and len(losses) == len(TERMS) - 1


def test_zero_weights_skip_the_rotated_flow_forward():
    model = _model(weights={"flow_rot_moco": 0.0, "rgb_flow_rot": 0.0, "flow_rot_rgb": 0.0}, lmcl=False)
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


# ----------------------------------------------------------------------------- tagged clips

# Each clip content gets an id; a clip tensor is filled with id / 10, and the tagging encoders
# below embed it as the one-hot vector of its id (and make flow layer4 equal to the id).
TAG = {("rgb", "q"): 1, ("rgb", "k"): 2, ("orig", "q"): 3, ("orig", "k"): 4, ("rot", "q"): 5, ("rot", "k"): 6}
DIM = 8
# what every term must contrast, by content, in each layout (docs/mscl.md §2.5,
# §3.1-3.3): (query, positive key, bank of negatives). Banks: "rgb" / "flow" = the queue
# before this step's keys; "flow+" = the flow queue holding this step's first-call flow keys.
EXPECTED = {
    "released": {
        "rgb_moco": (("rgb", "q"), ("rgb", "k"), "rgb"),
        "flow_moco": (("orig", "q"), ("rot", "q"), "flow"),  # positive: the same clip rotated
        "flow_rot_moco": (("orig", "k"), ("rot", "k"), "flow+"),
        "rgb_flow": (("rgb", "q"), ("rot", "q"), "flow+"),
        "flow_rgb": (("orig", "q"), ("rgb", "k"), "rgb"),
        "rgb_flow_rot": (("rgb", "q"), ("rot", "k"), "flow+"),
        "flow_rot_rgb": (("orig", "k"), ("rgb", "k"), "rgb"),
    },
    "paper": {
        "rgb_moco": (("rgb", "q"), ("rgb", "k"), "rgb"),
        "flow_moco": (("orig", "q"), ("orig", "k"), "flow"),
        "flow_rot_moco": (("rot", "q"), ("rot", "k"), "flow+"),  # rotated: its own MoCo
        "rgb_flow": (("rgb", "q"), ("orig", "k"), "flow+"),
        "flow_rgb": (("orig", "q"), ("rgb", "k"), "rgb"),
        "rgb_flow_rot": (("rgb", "q"), ("rot", "k"), "flow+"),
        "flow_rot_rgb": (("rot", "q"), ("rgb", "k"), "rgb"),
    },
}
# LMCL: positives from the query clip's original flow; extra negatives per layout
LMCL_NEGATIVES = {"released": ("orig", "k"), "paper": ("rot", "q")}


class Tagging(torch.nn.Module):
    """Wraps an encoder: pooled output = one-hot of the clip's tag; for flow, layer4 = the tag."""

    def __init__(self, encoder: torch.nn.Module, *, flow: bool):
        super().__init__()
        self.encoder, self.flow = encoder, flow

    def forward(self, x):
        _, maps = self.encoder(x)
        tag = (x.float().mean(dim=(1, 2, 3, 4)) * 10).round().long()  # (B,)
        if self.flow:
            maps = [*maps[:-1], torch.ones_like(maps[-1]) * tag.view(-1, 1, 1, 1, 1)]
        return torch.nn.functional.one_hot(tag, DIM).float(), maps


def _tagged_model() -> MSCL:
    model = _model(dim=DIM)
    for branch, flow in ((model.rgb, False), (model.flow, True)):
        branch.encoder_q, branch.encoder_k = Tagging(branch.encoder_q, flow=flow), Tagging(branch.encoder_k, flow=flow)
        branch.head_q, branch.head_k = torch.nn.Identity(), torch.nn.Identity()
    return model


def _tagged_clips(layout: str) -> dict[str, torch.Tensor]:
    content = {"rgb_q": ("rgb", "q"), "rgb_k": ("rgb", "k"), **CLIP_ROLES[layout]}
    return {f: torch.full((B, 3, 8, 32, 32), TAG[c] / 10) for f, c in content.items()}


@pytest.mark.parametrize("layout", ["released", "paper"])
def test_each_term_contrasts_the_documented_clips(layout, monkeypatch):
    model = _tagged_model()
    banks_before = {"rgb": model.rgb.queue.queue.clone(), "flow": model.flow.queue.queue.clone()}
    calls, lmcl_calls = [], []
    real_nce, real_lmcl = objective_module.info_nce_top1, objective_module.local_motion_contrast
    monkeypatch.setattr(objective_module, "info_nce_top1", lambda q, k, neg, t: calls.append((q, k, neg)) or real_nce(q, k, neg, t))
    monkeypatch.setattr(objective_module, "local_motion_contrast",
                        lambda *a: lmcl_calls.append(a) or real_lmcl(*a))
    losses = _step(model, _tagged_clips(layout), m=1.0)
    assert list(losses) == list(TERMS) and len(calls) == 7 and len(lmcl_calls) == 1
    tag_of = {v: c for c, v in TAG.items()}

    def content(embeddings):  # the one content all B rows carry
        tags = set(embeddings.argmax(dim=1).tolist())
        assert len(tags) == 1 and torch.allclose(embeddings.abs().sum(1), torch.ones(B))
        return tag_of[tags.pop()]

    flow_key = TAG[CLIP_ROLES[layout]["flow_k"]]
    for name, (q, k, neg) in zip([t for t in TERMS if t != "lmcl"], calls):
        want_q, want_k, want_bank = EXPECTED[layout][name]
        assert (content(q), content(k)) == (want_q, want_k), name
        # the bank: which queue, and whether this step's first-call flow keys are in it
        fresh = torch.nn.functional.one_hot(torch.full((B,), flow_key), DIM).float().T
        if want_bank == "flow+":
            torch.testing.assert_close(neg[:, :B], 0.99999 * fresh, msg=name)
            torch.testing.assert_close(neg[:, B:], banks_before["flow"][:, B:], msg=name)
        else:
            torch.testing.assert_close(neg, banks_before[want_bank], msg=name)
    x_rgb, x_flow, x_second, _ = lmcl_calls[0]
    assert x_rgb.shape == x_flow.shape == x_second.shape
    assert set(x_flow.flatten().tolist()) == {TAG[("orig", "q")]}
    assert set(x_second.flatten().tolist()) == {TAG[LMCL_NEGATIVES[layout]]}


def test_lmcl_reads_the_finest_pyramid_level(monkeypatch):
    clips = _clips()
    base = _step(_model(), clips)["lmcl"]

    def perturbed(levels_to_change):
        model = _model()
        full = model.pyramid.forward

        def forward(stages, levels=None):
            out = full(stages)  # every level, so that reading a coarse one would show
            return [x + 3.0 * torch.randn_like(x) if i in levels_to_change else x for i, x in enumerate(out)]

        monkeypatch.setattr(model.pyramid, "forward", forward)
        return _step(model, clips)["lmcl"]

    torch.testing.assert_close(perturbed({1, 2}), base)
    assert not torch.isclose(perturbed({0}), base)


def test_keys_carry_no_gradient():
    model = _model()
    _perturb_queries(model)
    clips = {n: x.requires_grad_() for n, x in _clips().items()}
    losses = _step(model, clips)
    sum(losses.values()).backward()
    for name in ("rgb_k", "flow_k", "flow_k_rot"):
        assert clips[name].grad is None, name  # nothing flows back into a key clip
    for name in ("rgb_q", "flow_q", "flow_q_rot"):
        assert clips[name].grad is not None and clips[name].grad.abs().sum() > 0, name
    for branch in (model.rgb, model.flow):
        for p in [*branch.encoder_k.parameters(), *branch.head_k.parameters()]:
            assert not p.requires_grad and p.grad is None
