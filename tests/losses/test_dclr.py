import math

import pytest
import torch

from mscl.losses.dclr import (TERMS, active_dclr_terms, activation_weights, dynamic_view, multi_positive_nce,
                              neighbour_positives, weighted_pool)
from mscl.losses.infonce import info_nce


def test_dynamic_view_of_a_static_clip_is_zero_and_of_a_ramp_is_its_slope():
    frame = torch.randn(2, 3, 1, 5, 6)
    assert dynamic_view(frame.expand(-1, -1, 4, -1, -1).clone()).abs().max() == 0
    ramp = torch.arange(4.0).view(1, 1, 4, 1, 1).expand(2, 3, 4, 5, 6).clone()  # V[t] = t
    d = dynamic_view(ramp)
    assert (d[:, :, 0] == 0).all() and (d[:, :, 1:] == 1).all()
    wrapped = dynamic_view(ramp, wrap=True)  # released: D[0] = V[0] - V[T-1] = -3
    assert (wrapped[:, :, 0] == -3).all() and (wrapped[:, :, 1:] == 1).all()


def test_activation_weights_have_mean_one_per_sample_for_any_map_size():
    for T in (1, 2, 3):
        maps = torch.rand(4, 8, T, 3, 3) * torch.arange(1.0, 5.0).view(4, 1, 1, 1, 1)
        a = activation_weights(maps)
        assert a.shape == (4, 1, T, 3, 3) and (a >= 0).all()
        torch.testing.assert_close(a.mean(dim=(2, 3, 4)).flatten(), torch.ones(4))
    assert activation_weights(torch.zeros(1, 2, 1, 2, 2)).abs().max() == 0  # a silent map weighs nothing


def test_weighted_pool_by_hand_for_two_samples():
    # sample 0: channel sums 1 and 3 at two positions -> weights 0.5 and 1.5 (mean 1)
    maps_w = torch.tensor([[1.0, 3.0], [2.0, 2.0]]).view(2, 1, 1, 1, 2)
    w = activation_weights(maps_w)
    torch.testing.assert_close(w.flatten(), torch.tensor([0.5, 1.5, 1.0, 1.0]))
    feats = torch.tensor([[[10.0, 20.0], [1.0, -1.0]], [[4.0, 8.0], [0.0, 6.0]]]).view(2, 2, 1, 1, 2)
    pooled = weighted_pool(feats, w)
    # sample 0: channel 0 = (10*0.5 + 20*1.5)/2 = 17.5, channel 1 = (1*0.5 - 1*1.5)/2 = -0.5
    # sample 1: uniform weights = plain average: 6 and 3
    torch.testing.assert_close(pooled, torch.tensor([[17.5, -0.5], [6.0, 3.0]]))


def test_single_positive_is_info_nce_and_hand_computed_multi_positive():
    torch.manual_seed(0)
    q, k, neg = torch.randn(3, 4), torch.randn(3, 4), torch.randn(4, 6)
    loss, top1 = multi_positive_nce(q, k, neg, 0.07)
    torch.testing.assert_close(loss, info_nce(q, k, neg, 0.07))
    # q . k = 1, queue columns score 0 and 1: logits [1, 0, 1] / T; positives: the key and slot 1
    q, k = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]])
    neg = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    T = 0.5
    loss, top1 = multi_positive_nce(q, k, neg, T, extra=torch.tensor([[1]]))
    e = math.exp(2.0)
    assert math.isclose(loss.item(), -math.log((e + e) / (e + 1.0 + e)), rel_tol=1e-5)
    assert top1.item() == 1.0  # ties go to the key (argmax takes the first)
    plain, _ = multi_positive_nce(q, k, neg, T, extra=torch.zeros(1, 0, dtype=torch.long))
    assert math.isclose(plain.item(), -math.log(e / (e + 1.0 + e)), rel_tol=1e-5)


def _unit_columns(cosines: list[float]) -> torch.Tensor:
    """(3, K) unit columns whose cosine with e0 is each of ``cosines``."""
    c = torch.tensor(cosines)
    return torch.stack([c, (1 - c**2).sqrt(), torch.zeros_like(c)])


def test_neighbours_of_every_ranking_mode_in_a_hand_made_queue():
    # slot:            A    B    C    D
    bank_s = _unit_columns([1.0, 0.8, 0.0, -0.5])  # cosine with the query's static embedding
    bank_d = _unit_columns([0.0, 0.6, 0.9, -0.5])  # ... and with its dynamic embedding
    q = torch.tensor([[1.0, 0.0, 0.0]])
    nb = neighbour_positives(q, q, bank_s, bank_d, 4)
    assert nb["static"].tolist() == [[0, 1, 2, 3]]  # A, B, C, D
    assert nb["dynamic"].tolist() == [[2, 1, 0, 3]]  # C, B, A, D
    # the release's softmax has no temperature: p_s + p_d ranks B, fairly close in both views,
    # above A and C, each the closest in one view (exp(cos) / sum: B 0.649, A 0.585, C 0.571, D 0.196)
    assert nb["both"].tolist() == [[1, 0, 2, 3]]
    # at the InfoNCE temperature the sharper view would decide alone: C (0.99), A (0.95), B (0.07)
    p = torch.softmax(q @ bank_s / 0.07, dim=1) + torch.softmax(q @ bank_d / 0.07, dim=1)
    assert p.topk(4).indices.tolist() == [[2, 0, 1, 3]]
    # per query, and k of them: the opposite query's nearest are the farthest above
    two = neighbour_positives(torch.cat([q, -q]), torch.cat([q, -q]), bank_s, bank_d, 2)
    assert two["static"].tolist() == [[0, 1], [3, 2]] and two["dynamic"].tolist() == [[2, 1], [3, 0]]


def test_weights_select_the_terms():
    assert active_dclr_terms({"dclr_vv": 1.0, "dclr_vs": 0.0, "dclr_dv": 2.0}) == {"dclr_vv": 1.0, "dclr_dv": 2.0}
    with pytest.raises(ValueError, match="every DCLR loss term is disabled"):
        active_dclr_terms({n: 0.0 for n in TERMS})
    with pytest.raises(ValueError, match="unknown DCLR terms"):
        active_dclr_terms({"rgb_moco": 1.0})
