import pytest
import torch
from torch import nn

from mscl.models.heads import ProjectionHead
from mscl.models.momentum import KeyQueue, MoCoBranch, age_decay, momentum_copy, momentum_update


def test_momentum_copy_is_frozen_and_independent():
    q = nn.Linear(3, 2)
    k = momentum_copy(q)
    assert all(not p.requires_grad for p in k.parameters())
    torch.testing.assert_close(k.weight, q.weight)
    with torch.no_grad():
        q.weight.add_(1.0)
    assert not torch.equal(k.weight, q.weight)


def test_momentum_update_is_ema_of_parameters_only():
    torch.manual_seed(0)
    q, k = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        q.weight.copy_(torch.randn(3)); k.weight.copy_(torch.randn(3))
        q.running_mean.fill_(5.0)
    k_old = k.weight.clone()
    momentum_update(k, q, 0.9)
    torch.testing.assert_close(k.weight, 0.9 * k_old + 0.1 * q.weight)
    assert torch.all(k.running_mean == 0)  # buffers are not averaged


def test_queue_starts_with_unit_columns():
    torch.manual_seed(0)
    queue = KeyQueue(4, 6)
    assert queue.queue.shape == (4, 6) and int(queue.ptr) == 0
    torch.testing.assert_close(queue.queue.norm(dim=0), torch.ones(6))
    assert torch.all(queue.count == 0)


def test_enqueue_matches_hand_rolled_list_with_wraparound():
    torch.manual_seed(0)
    K, B, dim = 5, 2, 3  # K % B != 0: every third enqueue wraps
    queue = KeyQueue(dim, K)
    slots = [queue.queue[:, j].clone() for j in range(K)]
    ages, ptr = [0] * K, 0
    for _ in range(7):
        keys = torch.randn(B, dim)
        ages = [a + 1 for a in ages]
        for b in range(B):
            slots[ptr] = keys[b]
            ages[ptr] = 1
            ptr = (ptr + 1) % K
        queue.enqueue(keys)
        torch.testing.assert_close(queue.queue, torch.stack(slots, dim=1))
        assert queue.count.tolist() == ages and int(queue.ptr) == ptr


def test_enqueue_rejects_more_keys_than_slots():
    with pytest.raises(ValueError):
        KeyQueue(3, 2).enqueue(torch.randn(3, 3))


def test_decayed_scales_columns_by_age():
    torch.manual_seed(0)
    queue = KeyQueue(2, 4)
    queue.enqueue(torch.ones(2, 2))  # ages [1, 1, 1, 1] -> slots 0, 1 new, 2, 3 aged from 0
    queue.enqueue(torch.ones(1, 2))  # ages [2, 2, 1, 2]
    expected = queue.queue * torch.tensor([0.5**2, 0.5**2, 0.5, 0.5**2])
    torch.testing.assert_close(queue.decayed(0.5), expected)
    torch.testing.assert_close(age_decay(queue.queue, queue.count, 1.0), queue.queue)
    snapshot = queue.decayed(1.0)
    queue.enqueue(torch.zeros(1, 2))
    assert snapshot.abs().sum() > 0 and not torch.equal(snapshot, queue.queue)


class _Encoder(nn.Module):
    """Toy encoder with BatchNorm, returning (pooled, [map])."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 1)
        self.bn = nn.BatchNorm3d(4)

    def forward(self, x):
        y = self.bn(self.conv(x))
        return y.mean(dim=(2, 3, 4)), [y]


def test_branch_keys_queries_and_momentum_step():
    torch.manual_seed(0)
    branch = MoCoBranch(_Encoder(), ProjectionHead(4, 3), dim=3, K=8)
    x = torch.randn(6, 3, 2, 4, 4)
    q, maps = branch.query(x)
    k = branch.keys(x)  # shuffled, then unshuffled: BN batch statistics are order-free
    assert not k.requires_grad and q.requires_grad and maps[0].shape == (6, 4, 2, 4, 4)
    torch.testing.assert_close(k, q.detach(), atol=1e-5, rtol=1e-5)  # key nets start as copies
    with torch.no_grad():
        for p in branch.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p))
    old = [p.clone() for p in branch.head_k.parameters()]
    branch.momentum_step(0.75)
    for p_k, p_old, p_q in zip(branch.head_k.parameters(), old, branch.head_q.parameters()):
        torch.testing.assert_close(p_k, 0.75 * p_old + 0.25 * p_q)
    branch.enqueue(k)
    torch.testing.assert_close(branch.queue.queue[:, :6], k.T)
