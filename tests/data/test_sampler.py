import pytest
import torch

from mscl.data.sampler import EpochBatches, batches_from


def test_ranks_split_each_global_batch_in_order():
    one = EpochBatches(10, batch_size=4, seed=1)
    ranks = [EpochBatches(10, batch_size=4, seed=1, rank=r, world_size=2) for r in range(2)]
    for epoch in (0, 3):
        for s in (one, *ranks):
            s.set_epoch(epoch)
        merged = [a + b for a, b in zip(*ranks)]
        assert merged == list(one) and len(merged) == 2  # 10 // 4, last partial batch dropped
    assert sorted(sum(list(one), [])) != list(range(8))  # shuffled


def test_epochs_differ_and_repeat():
    s = EpochBatches(12, batch_size=3, seed=0)
    s.set_epoch(0)
    e0 = list(s)
    s.set_epoch(1)
    assert list(s) != e0
    s.set_epoch(0)
    assert list(s) == e0 and sorted(sum(e0, [])) == list(range(12))


def test_skip_resumes_inside_an_epoch():
    s = EpochBatches(12, batch_size=3, seed=0)
    s.set_epoch(2)
    full = list(s)
    s.set_epoch(2, skip=3)
    assert list(s) == full[3:] and len(s) == 1


def test_bad_sizes():
    with pytest.raises(ValueError, match="not divisible"):
        EpochBatches(10, batch_size=3, seed=0, world_size=2)
    with pytest.raises(ValueError, match="fewer than one batch"):
        EpochBatches(2, batch_size=3, seed=0)


class _Items(torch.utils.data.Dataset):
    def __init__(self):
        self.epochs = []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return i


def test_batches_from_resumes_at_any_step():
    ds = _Items()
    loader = torch.utils.data.DataLoader(ds, batch_sampler=EpochBatches(6, batch_size=2, seed=5))
    full = [b.tolist() for b in batches_from(loader, 0, 7)]  # 3 batches per epoch
    assert len(full) == 7 and ds.epochs == [0, 1, 2]
    assert [b.tolist() for b in batches_from(loader, 4, 7)] == full[4:]
