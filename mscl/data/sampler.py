"""Epoch batches that are the same whatever the number of processes, and resumable mid-epoch."""
from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import Sampler


class EpochBatches(Sampler[list[int]]):
    """Global batches of a seeded permutation per epoch; each process takes its slice.

    Global batch b of epoch e is ``perm_e[b*B:(b+1)*B]`` whatever ``world_size`` is, and process
    r takes the r-th of ``world_size`` equal parts, so the gathered keys of a step are the same
    set, in the same order, as in one process with the whole batch. The last incomplete batch of
    an epoch is dropped (MSCL trains with drop_last).

    Args:
        n: dataset length. batch_size: global batch (divisible by world_size).
    """

    def __init__(self, n: int, *, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} is not divisible by {world_size} processes")
        if n < batch_size:
            raise ValueError(f"{n} training videos are fewer than one batch of {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.skip = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.n // self.batch_size

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Iterate epoch ``epoch`` from its batch ``skip`` on (resume inside an epoch)."""
        self.epoch, self.skip = epoch, skip

    def __len__(self) -> int:
        return self.batches_per_epoch - self.skip

    def __iter__(self) -> Iterator[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        perm = torch.randperm(self.n, generator=g)
        local = self.batch_size // self.world_size
        for b in range(self.skip, self.batches_per_epoch):
            batch = perm[b * self.batch_size : (b + 1) * self.batch_size]
            mine = batch[self.rank * local : (self.rank + 1) * local]
            yield mine.tolist()


def batches_from(loader, start: int, total: int) -> Iterator:
    """Batches of global steps ``start .. total - 1`` of a loader over :class:`EpochBatches`,
    epoch after epoch; the dataset's ``set_epoch`` (if any) is called before each epoch."""
    sampler = loader.batch_sampler
    per_epoch, step = sampler.batches_per_epoch, start
    while step < total:
        epoch, skip = divmod(step, per_epoch)
        sampler.set_epoch(epoch, skip)
        if hasattr(loader.dataset, "set_epoch"):
            loader.dataset.set_epoch(epoch)
        for batch in loader:
            yield batch
            step += 1
            if step == total:
                return
