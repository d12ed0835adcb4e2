import pytest
import torch

from mscl.downstream.retrieval import center_l2, nearest_neighbours, recall_at_k, similarity


def test_identical_features_give_recall_one_at_one():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(12, 8, generator=g)
    labels = torch.arange(12) % 4
    sim = similarity(feats, feats)
    assert nearest_neighbours(sim, 1)[:, 0].tolist() == list(range(12))
    assert recall_at_k(sim, labels, labels) == {1: 1.0, 5: 1.0, 10: 1.0, 20: 1.0, 50: 1.0}


def test_a_known_permutation_is_recovered():
    g = torch.Generator().manual_seed(1)
    gallery = torch.randn(10, 16, generator=g)
    perm = torch.randperm(10, generator=g)
    query = gallery[perm] * 3.0 + 0.01 * torch.randn(10, 16, generator=g)  # scale does not matter
    assert torch.equal(nearest_neighbours(similarity(query, gallery), 1)[:, 0], perm)


def test_centring_uses_each_set_own_mean():
    # both sets share a large offset that would make every cosine ~1 without centring
    base = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    gallery, query = base + 100.0, base[[2, 0]] - 50.0
    sim = similarity(query, gallery)
    assert nearest_neighbours(sim, 1)[:, 0].tolist() == [2, 0]
    x = center_l2(gallery)
    torch.testing.assert_close(x.norm(dim=1), torch.ones(3))


def test_recall_hand_computed_and_k_beyond_the_gallery():
    sim = torch.tensor([
        [0.9, 0.8, 0.1],  # neighbours 0, 1, 2 -> labels 1, 0, 2
        [0.1, 0.2, 0.7],  # neighbours 2, 1, 0 -> labels 2, 0, 1
    ])
    gallery_labels = torch.tensor([1, 0, 2])
    query_labels = torch.tensor([0, 1])
    r = recall_at_k(sim, query_labels, gallery_labels, ks=(1, 2, 3, 50))
    assert r == {1: 0.0, 2: 0.5, 3: 1.0, 50: 1.0}
    assert nearest_neighbours(sim, 50).shape == (2, 3)


def test_a_class_missing_from_the_gallery_is_never_a_hit():
    sim = torch.rand(3, 4)
    r = recall_at_k(sim, torch.tensor([5, 5, 5]), torch.tensor([0, 1, 2, 3]))
    assert r[50] == pytest.approx(0.0)
