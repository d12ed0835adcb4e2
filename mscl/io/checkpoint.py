"""Checkpoints: a ``state_dict`` in ``.pt`` (loadable with ``weights_only=True``) plus a JSON
sidecar saying how to rebuild the module, and full training states for resume."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from mscl.io.atomic import atomic_path, write_json


def sidecar_path(path: str | Path) -> Path:
    """``encoder.pt`` -> ``encoder.json``."""
    return Path(path).with_suffix(".json")


def save_state(path: str | Path, state: dict) -> None:
    """Atomically ``torch.save`` ``state`` (tensors and plain Python containers only)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """Load a file written by :func:`save_state` with ``weights_only=True``."""
    return torch.load(path, map_location=device, weights_only=True)


def save_module(path: str | Path, module: torch.nn.Module, sidecar: dict) -> None:
    """Write ``module.state_dict()`` (on CPU) to ``path`` and ``sidecar`` beside it.

    Both depend only on the weights and the sidecar's content (no commit, date or host): an
    identical model is an identical file, so DVC sees no change and a teammate's pull matches.
    The code that made them is the commit of the ``dvc.lock`` that records their hashes.
    """
    save_state(path, {k: v.detach().cpu() for k, v in module.state_dict().items()})
    write_json(sidecar_path(path), sidecar)


def load_module_state(path: str | Path) -> tuple[dict, dict]:
    """(state_dict, sidecar) of a file written by :func:`save_module`."""
    return load_state(path), json.loads(sidecar_path(path).read_text())
