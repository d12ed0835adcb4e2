import math

import torch
import torch.nn.functional as F

from mscl.losses.infonce import info_nce, info_nce_top1, nce_logits


def test_logits_put_positive_first_and_divide_by_temperature():
    torch.manual_seed(0)
    q, k, neg = torch.randn(3, 4), torch.randn(3, 4), torch.randn(4, 5)
    logits, labels = nce_logits(q, k, neg, 0.5)
    assert logits.shape == (3, 6) and labels.tolist() == [0, 0, 0]
    explicit = torch.stack([torch.cat([(q[b] * k[b]).sum().view(1), q[b] @ neg]) for b in range(3)]) / 0.5
    torch.testing.assert_close(logits, explicit)
    torch.testing.assert_close(info_nce(q, k, neg, 0.5), F.cross_entropy(explicit, torch.zeros(3, dtype=torch.long)))


def test_hand_computed_case():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0]])
    neg = torch.tensor([[0.0, -1.0], [1.0, 0.0]])  # columns (0, 1) and (-1, 0)
    # logits = [1, 0, -1] / T
    T = 0.5
    expected = -math.log(math.exp(2.0) / (math.exp(2.0) + 1.0 + math.exp(-2.0)))
    assert math.isclose(info_nce(q, k, neg, T).item(), expected, rel_tol=1e-6)


def test_aligned_pairs_score_lower_than_shuffled():
    torch.manual_seed(0)
    q = F.normalize(torch.randn(8, 16), dim=1)
    neg = F.normalize(torch.randn(16, 32), dim=0)
    assert info_nce(q, q, neg, 0.1) < info_nce(q, q.roll(1, 0), neg, 0.1)


def test_gradient_reaches_query_only_through_inputs():
    torch.manual_seed(0)
    q = torch.randn(2, 3, requires_grad=True)
    info_nce(q, torch.randn(2, 3), torch.randn(3, 4), 0.07).backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()


def _pairs(B: int, seed: int, D: int = 128, K: int = 256):
    """Unit queries, keys near them (similarity ~0.7) and a bank of unit negatives."""
    g = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(B, D, generator=g), dim=1)
    k = F.normalize(q + torch.randn(B, D, generator=g) / D**0.5, dim=1)
    return q, k, F.normalize(torch.randn(D, K, generator=g), dim=0)


def test_logits_and_loss_under_bf16_autocast_equal_the_float32_ones():
    for seed in range(3):
        q, k, neg = _pairs(2, seed)
        exact, _ = nce_logits(q, k, neg, 0.07)
        loss = info_nce(q, k, neg, 0.07)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed, _ = nce_logits(q, k, neg, 0.07)
            mixed_loss = info_nce(q, k, neg, 0.07)
            naive = torch.cat([(q * k).sum(1, keepdim=True), q @ neg], 1) / 0.07  # autocast's own choice
        assert mixed.dtype == mixed_loss.dtype == torch.float32
        assert (mixed - exact).abs().max() < 1e-4
        assert abs(mixed_loss.item() - loss.item()) <= 1e-3 * loss.item()
        # bf16 products miss by about 0.01 in a logit: the check above has power
        assert (naive.float() - exact).abs().max() > 3e-3


def test_top1_is_the_fraction_of_positives_ranked_first():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8]])
    neg = torch.tensor([[0.8], [0.6]])  # one negative (0.8, 0.6)
    # query 0: 1 vs 0.8 -> right; query 1: 0 vs 0.6 -> wrong; query 2: 0.6 vs 0.8 -> wrong
    loss, top1 = info_nce_top1(q, k, neg, 0.1)
    assert abs(top1.item() - 1 / 3) < 1e-6 and not top1.requires_grad
    torch.testing.assert_close(loss, info_nce(q, k, neg, 0.1))
