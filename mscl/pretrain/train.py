"""Pretraining: setup in small functions, then the visible training loop.

Order of one step: lr and momentum from the precomputed schedules -> batch augmentation on the
device -> forward (which momentum-updates the key nets, encodes keys and enqueues them, as the
released code does) -> named loss terms -> backward -> clip -> SGD step -> log -> checkpoint.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from mscl import dist
from mscl.data.pretrain import PretrainBatch, augment_generator, prepare_batch
from mscl.io.checkpoint import load_state, save_state
from mscl.io.digest import fingerprint
from mscl.losses.dclr import TERMS as DCLR_TERMS
from mscl.losses.objective import TERMS as MSCL_TERMS
from mscl.losses.objective import total_loss
from mscl.params import PretrainParams, output_values
from mscl.pretrain.dclr import DCLR
from mscl.pretrain.model import MSCL
from mscl.pretrain.monitor import TrainLog
from mscl.pretrain.schedules import cosine_lr, cosine_momentum, step_lr


# --------------------------------------------------------------------------- setup


@dataclasses.dataclass(frozen=True)
class Schedules:
    """Per-iteration values indexed by the global step."""

    lr: np.ndarray
    m_rgb: np.ndarray
    m_flow: np.ndarray

    @property
    def total(self) -> int:
        return len(self.lr)


def build_schedules(p: PretrainParams, iters_per_epoch: int) -> Schedules:
    """Cosine lr with linear warmup (docs/mscl.md §8.1) and cosine key momentum 0.994 -> 1 (§3.1);
    with DCLR its step lr (``dclr_lr_milestones``) and constant momentum (``dclr_momentum``)
    unless those are set to MSCL's ([] and 0)."""
    total = p.epochs * iters_per_epoch
    dclr = p.method == "dclr"
    if dclr and p.dclr_lr_milestones:
        lr = step_lr(p.lr, total, p.dclr_lr_milestones)
    else:
        lr = cosine_lr(p.lr, total, warmup_iters=min(total, round(p.warmup_epochs * iters_per_epoch)),
                       warmup_ratio=p.warmup_ratio, min_lr=p.min_lr)
    m = np.full(total, p.dclr_momentum) if dclr and p.dclr_momentum else cosine_momentum(p.momentum_base, total)
    # released flow branch runs twice per step, so its momentum schedule advances twice as fast (docs/mscl.md §8.3)
    rate = 1.0 if p.single_flow_momentum_update else 2.0
    return Schedules(lr, m, cosine_momentum(p.momentum_base, total, rate=rate))


def term_weights(p: PretrainParams, terms) -> dict[str, float]:
    """{term: weight} of the named terms, from the ``<term>_weight`` params."""
    return {name: getattr(p, f"{name}_weight") for name in terms}


def build_model(p: PretrainParams) -> MSCL | DCLR:
    """The pretraining model of ``p.method`` with every term weight and switch of ``p``."""
    if p.method == "dclr":
        return DCLR(weights=term_weights(p, DCLR_TERMS), backbone=p.dclr_backbone, width=p.width, dim=p.dim,
                    queue_size=p.queue_size, temperature=p.temperature, queue_decay=p.dclr_queue_decay,
                    wrap=p.dclr_wrap, topk=p.dclr_topk)
    return MSCL(method=p.method, backbone=p.backbone, width=p.width, flow_width=p.flow_width, dim=p.dim,
                queue_size=p.queue_size, temperature=p.temperature, queue_decay=p.queue_decay,
                weights=term_weights(p, MSCL_TERMS), lmcl=p.lmcl, fra=p.fra,
                exclude_positives_from_queue=p.exclude_positives_from_queue,
                single_flow_momentum_update=p.single_flow_momentum_update)


def build_optimizer(model: torch.nn.Module, p: PretrainParams) -> torch.optim.SGD:
    """SGD with momentum and weight decay on every trainable parameter (docs/mscl.md §5)."""
    params = [t for t in model.parameters() if t.requires_grad]
    return torch.optim.SGD(params, lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay)


def prepare_model(model: MSCL, p: PretrainParams, device: torch.device) -> torch.nn.Module:
    """Wrap a model already on ``device``: channels_last_3d, DDP and torch.compile as ``p`` asks."""
    if p.channels_last:
        model.to(memory_format=torch.channels_last_3d)
    if dist.world_size() > 1:
        # find_unused_parameters: the coarse pyramid levels and disabled terms get no gradient
        ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
    if p.compile:
        model = torch.compile(model)
    return model


# --------------------------------------------------------------------------- checkpoints


def rng_state() -> dict:
    """Global torch RNG states (the key encoders' batch shuffle draws from them)."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, model: MSCL, optimizer: torch.optim.Optimizer, step: int, run: str,
                    summary: dict) -> None:
    """Everything a resumed run needs to continue the same loss curve (atomic write); ``summary``
    is the last logged values, so a run killed after its final checkpoint can still report them."""
    save_state(path, {"step": step, "fingerprint": run, "model": model.state_dict(),
                      "optimizer": optimizer.state_dict(), "rng": rng_state(), "summary": summary})


def resume(path: Path, model: MSCL, optimizer: torch.optim.Optimizer, fingerprint: str) -> tuple[int, dict]:
    """Load a checkpoint of the same run (same fingerprint); returns the step to start from and
    the values last logged before it ((0, {}) when there is nothing to resume)."""
    if not path.exists():
        return 0, {}
    state = load_state(path)
    if state.get("fingerprint") != fingerprint:
        return 0, {}  # written with other params, data or code: start afresh
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    set_rng_state(state["rng"])
    return int(state["step"]), state["summary"]


def run_fingerprint(p: PretrainParams, data_signature: str) -> str:
    """What a checkpoint must share with the current run to be resumed (``data_signature`` covers
    the inputs and the code)."""
    return fingerprint([output_values(p), data_signature, dist.world_size()])


# --------------------------------------------------------------------------- the loop


def model_inputs(b: PretrainBatch, p: PretrainParams) -> dict[str, torch.Tensor]:
    """The batch's clips as the model's keyword arguments, in the model's memory format (a
    mismatched layout sends 3D convolutions down slow paths, on CPU by 10x)."""
    fmt = torch.channels_last_3d if p.channels_last else torch.contiguous_format
    return {name: x.contiguous(memory_format=fmt) for name, x in b.views.items()}


def train(model: torch.nn.Module, raw: MSCL, batches, optimizer: torch.optim.Optimizer, sched: Schedules, *,
          start: int, p: PretrainParams, device: torch.device, log: TrainLog, checkpoint: Path, fingerprint: str,
          monitors: dict[str, Callable[[torch.nn.Module, torch.device], float]] | None = None) -> dict:
    """Run steps ``start .. sched.total - 1`` over ``batches``; returns the last logged values.

    ``model`` is what runs the forward (possibly DDP/compiled), ``raw`` the plain MSCL module
    whose state is checkpointed; ``monitors`` (main process only) are {logged name: check of the raw
    model}, run before the first step of a fresh run (step 0: the random initialisation on the
    same data, the level a curve must rise from), every ``p.knn_every`` steps and at the end.
    """
    amp = dist.autocast(device, p.bf16)
    trainable = [t for t in raw.parameters() if t.requires_grad]
    if monitors and start == 0:
        for name, check in monitors.items():
            log.log_value(0, name, check(raw, device))
    step, tick = start, time.perf_counter()
    for batch in batches:
        for group in optimizer.param_groups:
            group["lr"] = float(sched.lr[step])
        b = prepare_batch(batch, device, augment_generator(p.seed, step, dist.rank()), p)
        with amp:
            losses = model(**model_inputs(b, p), m_rgb=float(sched.m_rgb[step]), m_flow=float(sched.m_flow[step]))
        loss = total_loss(losses)
        if not math.isfinite(loss.item()):
            terms = {k: v.item() for k, v in losses.items()}
            raise FloatingPointError(f"non-finite loss at step {step}: {terms}; lower pretrain.lr or check the data")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if p.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(trainable, p.grad_clip)
        optimizer.step()
        step += 1
        now = time.perf_counter()
        log.step(step, losses, lr=sched.lr[step - 1], clips_per_s=p.batch_size / (now - tick), replaced=b.replaced,
                 top1=raw.top1)
        if monitors and (step % p.knn_every == 0 or step == sched.total):
            for name, check in monitors.items():
                log.log_value(step, name, check(raw, device))
        tick = time.perf_counter()  # the kNN check is not training time
        if step % p.checkpoint_every == 0 or step == sched.total:
            if dist.is_main():
                save_checkpoint(checkpoint, raw, optimizer, step, fingerprint, log.summary())
            log.flush(step)
    return log.summary()
