"""Process-group and device helpers that fall back to a single process.

Every function works whether or not ``torch.distributed`` is initialised, so the same model code
runs under torchrun on several GPUs and in a plain CPU test: with one process ``all_gather`` is the
identity and the MoCo batch shuffle is a local permutation.
"""
from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    """True when a default process group is up."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """Rank of this process (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on the process that logs and writes files."""
    return rank() == 0


@torch.no_grad()
def all_gather(x: Tensor) -> Tensor:
    """Concatenate ``x`` from every process along dim 0, in rank order; no gradient.

    Args:
        x: (B, ...) with the same shape on every process.
    Returns:
        (world_size * B, ...); ``x`` itself in a single process.
    """
    if world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


@torch.no_grad()
def batch_shuffle(x: Tensor) -> tuple[Tensor, Tensor]:
    """Shuffle a batch across all processes before a key-encoder forward (shuffle-BN).

    The key encoder's BatchNorm would otherwise see the same sub-batch split as the query encoder
    and could leak which samples are positives through the batch statistics (MoCo, sec. 3.3).

    Args:
        x: (B, ...) local batch, same B on every process.
    Returns:
        (B, ...) this process's share of the globally permuted batch, and the
        (world_size * B,) index that :func:`batch_unshuffle` needs to undo it.
    """
    x_all = all_gather(x)  # (N, ...) with N = world_size * B
    perm = torch.randperm(x_all.shape[0], device=x.device)
    if world_size() > 1:
        dist.broadcast(perm, src=0)  # every process must use rank 0's permutation
    idx_unshuffle = torch.argsort(perm)
    mine = perm.view(world_size(), -1)[rank()]
    return x_all[mine], idx_unshuffle


@torch.no_grad()
def batch_unshuffle(x: Tensor, idx_unshuffle: Tensor) -> Tensor:
    """Undo :func:`batch_shuffle` on the key-encoder output.

    Args:
        x: (B, ...) outputs for this process's shuffled share.
        idx_unshuffle: (world_size * B,) from :func:`batch_shuffle`.
    Returns:
        (B, ...) outputs in the original local order.
    """
    x_all = all_gather(x)  # (N, ...) in shuffled order
    mine = idx_unshuffle.view(world_size(), -1)[rank()]
    return x_all[mine]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; any other name as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast(device: torch.device, bf16: bool) -> torch.autocast:
    """bf16 autocast on CUDA when ``bf16`` is asked for; float32 (a disabled autocast) elsewhere.

    Not on the CPU: with torch 2.14's oneDNN, bf16 weight gradients of 3D convolutions come back
    non-finite at random on some small shapes (a (16, 64, 2, 4, 4) input with a 3x3x3 kernel, the
    R3D layer3 map of the CPU benchmark: 16-27 % of calls on an AVX-512 BF16 CPU), which ends a run
    with a NaN loss within a few steps. (Where it works, bf16 would make the CPU step ~1.4x faster.)
    """
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and device.type == "cuda")


def launched_by_torchrun() -> bool:
    """True inside a process started by torchrun (it sets LOCAL_RANK)."""
    return "LOCAL_RANK" in os.environ


def torchrun_command(argv: list[str], *, nproc: int, nnodes: int, node_rank: int, master_addr: str, master_port: int) -> list[str]:
    """The command that reruns ``argv`` (script + args) as ``nproc`` processes per node."""
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", f"--nnodes={nnodes}",
            f"--node_rank={node_rank}", f"--master_addr={master_addr}", f"--master_port={master_port}", *argv]


def init_from_env(device_type: str) -> torch.device:
    """Join the process group torchrun describes (NCCL on CUDA, gloo on CPU); returns this
    process's device. Without torchrun: no group, device ``device_type``."""
    if not launched_by_torchrun():
        return torch.device(device_type)
    local = int(os.environ["LOCAL_RANK"])
    if device_type == "cuda":
        torch.cuda.set_device(local)
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return torch.device(f"cuda:{local}") if device_type == "cuda" else torch.device("cpu")


def shutdown() -> None:
    """Leave the process group, if any."""
    if is_distributed():
        dist.destroy_process_group()
