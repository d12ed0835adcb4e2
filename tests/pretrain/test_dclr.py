"""The DCLR model: which clip and stream feed each term, the release's key-pass order, the EMA of
encoder and heads, queues, top-k positives, the backbones."""
import copy

import pytest
import torch
import torch.nn.functional as F

import mscl.pretrain.dclr as dclr_module
from mscl.losses.dclr import TERMS, activation_weights, dynamic_view, weighted_pool
from mscl.losses.infonce import info_nce
from mscl.models.r3d import global_pool
from mscl.pretrain.dclr import DCLR

B, K, T = 4, 16, 4
ALL = {name: 1.0 for name in TERMS}
# the release's pairs (moco/builder.py MoCo_View.forward_once): the query clip's stream, the key
# clip's stream; the negatives are the queue of earlier key clips' same stream
PAIRS = {"dclr_vv": ("vv", "vv"), "dclr_vs": ("vs", "s"), "dclr_sv": ("s", "vs"), "dclr_vd": ("vd", "d"),
         "dclr_dv": ("d", "vd")}


def _model(**kw) -> DCLR:
    torch.manual_seed(0)
    return DCLR(**{"weights": ALL, "backbone": "r3d_18", "width": 8, "queue_size": K, "topk": 0, **kw})


def _clips(seed: int = 1, static_frames: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    rgb = {n: torch.randn(B, 3, T, 32, 32, generator=g) for n in ("rgb_q", "rgb_k")}
    return rgb | {n: torch.randn(B, 3, static_frames, 32, 32, generator=g) for n in ("static_q", "static_k")}


def _step(model: DCLR, clips: dict, m: float = 0.99) -> dict[str, torch.Tensor]:
    return model(**clips, m_rgb=m)


def _perturb(module: torch.nn.Module, scale: float = 0.05, seed: int = 7) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))


@torch.no_grad()
def _streams(encoder, heads, rgb, static, weights_from) -> dict[str, torch.Tensor]:
    """The five embeddings of one clip, read from docs/dclr.md: V, S (its frame repeated) and
    D = V[t] - V[t-1] in one batch through ``encoder``; V pooled plainly and with the activation
    weights of S and D found by ``weights_from`` (the same three views through that encoder)."""
    views = torch.cat([rgb, static.expand(-1, -1, T, -1, -1), dynamic_view(rgb)])
    v, s, d = encoder(views)[1][-1].split(B)
    _, s_w, d_w = weights_from(views)[1][-1].split(B)
    pooled = {"vv": global_pool(v), "vs": weighted_pool(v, activation_weights(s_w)),
              "vd": weighted_pool(v, activation_weights(d_w)), "s": global_pool(s), "d": global_pool(d)}
    return {name: F.normalize(heads[name](x), dim=1) for name, x in pooled.items()}


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


def test_each_term_pairs_a_stream_of_the_query_clip_with_one_of_the_key_clip_in_the_released_order():
    """Momentum 0 makes the updated key nets equal the query nets, which differ from the key nets
    before the update: the keys must come from after the update, the activation weights of both
    clips from before it (moco/builder.py), and every positive from the other clip."""
    model = _model()
    _perturb(model.nets.encoder_q)
    _perturb(model.nets.head_q)
    before_k = copy.deepcopy(model.nets.encoder_k)
    query_enc, query_heads = copy.deepcopy(model.nets.encoder_q), copy.deepcopy(model.nets.head_q)
    queues = {s: model.queues[s].queue.clone() for s in ("vv", "vs", "vd", "s", "d")}
    clips = _clips()
    losses = _step(model, clips, m=0.0)
    q = _streams(query_enc, query_heads, clips["rgb_q"], clips["static_q"], before_k)
    k = _streams(query_enc, query_heads, clips["rgb_k"], clips["static_k"], before_k)  # updated key nets = query nets
    for name, (query, key) in PAIRS.items():
        torch.testing.assert_close(losses[name], info_nce(q[query], k[key], queues[key], 0.07), rtol=1e-4, atol=1e-4)
    # the same positives with the activation weights of the updated key encoder are another loss
    late = _streams(query_enc, query_heads, clips["rgb_k"], clips["static_k"], query_enc)
    assert not torch.allclose(losses["dclr_sv"], info_nce(q["s"], late["vs"], queues["vs"], 0.07), atol=1e-3)
    # every key stream was enqueued: the queue of a stream now holds the key clip's embeddings
    for s in queues:
        torch.testing.assert_close(model.queues[s].queue[:, :B].T, k[s], rtol=1e-4, atol=1e-5)


def test_key_encoder_and_all_five_heads_follow_the_query_nets_by_the_momentum():
    model = _model()
    _perturb(model.nets.encoder_q, 0.1)
    _perturb(model.nets.head_q, 0.1)
    key_before = copy.deepcopy(model.nets)
    _step(model, _clips(), m=0.9)
    pairs = list(zip(key_before.encoder_k.parameters(), model.nets.encoder_k.parameters(),
                     model.nets.encoder_q.parameters()))
    head_pairs = list(zip(key_before.head_k.parameters(), model.nets.head_k.parameters(),
                          model.nets.head_q.parameters()))
    assert len(head_pairs) == 5 * 4  # five heads of two linear layers, weight and bias
    for k0, k1, q in pairs + head_pairs:
        torch.testing.assert_close(k1, 0.9 * k0 + 0.1 * q)
        assert not torch.equal(k1, k0)


def test_a_zero_weight_removes_its_term_and_the_queue_only_it_reads():
    model = _model(weights={**ALL, "dclr_vv": 0.0})
    before = model.queues["vv"].queue.clone()
    losses = _step(model, _clips())
    assert "dclr_vv" not in losses and set(losses) == set(TERMS) - {"dclr_vv"}
    assert torch.equal(model.queues["vv"].queue, before)  # no term reads it: nothing enqueued
    assert int(model.queues["s"].ptr) == B  # the other queues advance in step
    with pytest.raises(ValueError, match="disabled"):
        _model(weights={n: 0.0 for n in TERMS})


def test_static_view_of_one_frame_equals_the_repeated_frame():
    clips = _clips()
    repeated = dict(clips, static_q=clips["static_q"].expand(-1, -1, T, -1, -1).clone(),
                    static_k=clips["static_k"].expand(-1, -1, T, -1, -1).clone())
    a, b = _step(_model(), clips), _step(_model(), repeated)
    for name in TERMS:
        torch.testing.assert_close(a[name], b[name])


def test_neighbours_are_mined_with_the_query_clips_own_s_and_d_from_the_activation_pass(monkeypatch):
    """The mining reads the query clip's S and D embedded by the key nets before the update,
    against queues of earlier key clips' S and D from the same pass, and each term takes the
    neighbours of its own views (static: vs, sv; dynamic: vd, dv; both: vv)."""
    seen, extras = {}, {}
    mine = dclr_module.neighbour_positives

    def spy_mine(static_q, dynamic_q, bank_s, bank_d, topk):
        seen.update(static_q=static_q, dynamic_q=dynamic_q, bank_s=bank_s, bank_d=bank_d, topk=topk)
        seen["found"] = mine(static_q, dynamic_q, bank_s, bank_d, topk)
        return seen["found"]

    nce = dclr_module.multi_positive_nce

    def spy_nce(q, k, negatives, temperature, extra=None):
        extras[len(extras)] = extra
        return nce(q, k, negatives, temperature, extra)

    model = _model(topk=3)
    _step(model, _clips(5), m=0.0)  # fills the mined queues with one batch
    _perturb(model.nets.encoder_q)
    _perturb(model.nets.head_q)
    before = copy.deepcopy(model.nets)
    mined = {s: model.queues[s].queue.clone() for s in ("mined_s", "mined_d")}
    monkeypatch.setattr(dclr_module, "neighbour_positives", spy_mine)
    monkeypatch.setattr(dclr_module, "multi_positive_nce", spy_nce)
    clips = _clips()
    _step(model, clips, m=0.0)
    own = _streams(before.encoder_k, before.head_k, clips["rgb_q"], clips["static_q"], before.encoder_k)
    torch.testing.assert_close(seen["static_q"], own["s"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(seen["dynamic_q"], own["d"], rtol=1e-4, atol=1e-5)
    assert torch.equal(seen["bank_s"], mined["mined_s"]) and torch.equal(seen["bank_d"], mined["mined_d"])
    assert seen["topk"] == 3
    modes = {"dclr_vv": "both", "dclr_vs": "static", "dclr_sv": "static", "dclr_vd": "dynamic", "dclr_dv": "dynamic"}
    for (_, extra), name in zip(sorted(extras.items()), TERMS):
        assert torch.equal(extra, seen["found"][modes[name]]), name
    # this step's key clip enters the mined queues as embedded before the update
    key_clip = _streams(before.encoder_k, before.head_k, clips["rgb_k"], clips["static_k"], before.encoder_k)
    torch.testing.assert_close(model.queues["mined_s"].queue[:, B : 2 * B].T, key_clip["s"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model.queues["mined_d"].queue[:, B : 2 * B].T, key_clip["d"], rtol=1e-4, atol=1e-5)


def test_topk_positives_lower_the_loss_and_keep_the_top1():
    plain, mined = _model(), _model(topk=3)
    assert "mined_s" not in plain.queues  # no mining: no queue kept for it
    for seed in (1, 2, 3):  # fill the queues first
        lp, lm = _step(plain, _clips(seed)), _step(mined, _clips(seed))
    assert all(lm[n] <= lp[n] + 1e-6 for n in TERMS)  # more positives: a larger share of the softmax
    assert any(lm[n] < lp[n] - 1e-3 for n in TERMS)
    assert all(torch.equal(plain.top1[n], mined.top1[n]) for n in TERMS)
    with pytest.raises(ValueError, match="below the queue size"):
        _model(topk=K)


@pytest.mark.parametrize("backbone", ["r3d_18", "r2plus1d_18", "r2plus1d_10"])
def test_every_backbone_trains_and_is_the_kept_network(backbone):
    model = _model(backbone=backbone)
    sum(_step(model, _clips()).values()).backward()
    assert model.backbone is model.nets.encoder_q
    names = {"r3d_18": "R3D18", "r2plus1d_18": "R2Plus1D18", "r2plus1d_10": "R2Plus1D10"}
    assert type(model.backbone).__name__ == names[backbone]
