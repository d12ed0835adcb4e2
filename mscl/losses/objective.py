"""The MSCL objective, whole (docs/mscl.md §3): its eight named terms, what feeds each, and their sum.

    L = sum over active terms of weight * term                                      (§3.4)

    rgb_moco       InfoNCE(q_rgb,      k_rgb,      bank rgb)            RGB MoCo      (§3.1)
    flow_moco      InfoNCE(q_flow,     k_flow,     bank flow)           flow MoCo, first call
    flow_rot_moco  InfoNCE(q_flow_rot, k_flow_rot, bank flow_enqueued)  flow MoCo, second call
    rgb_flow       InfoNCE(q_rgb,      k_flow,     bank flow_enqueued*) RGB -> flow   (§3.2)
    flow_rgb       InfoNCE(q_flow,     k_rgb,      bank rgb)            flow -> RGB
    rgb_flow_rot   InfoNCE(q_rgb,      k_flow_rot, bank flow_enqueued*) RGB -> second flow
    flow_rot_rgb   InfoNCE(q_flow_rot, k_rgb,      bank rgb)            second flow -> RGB
    lmcl           per time step: RGB pyramid level 0 vs flow layer 4 of the same clip,
                   against its other steps and every step of the second flow clip   (§3.3)

(* ``flow`` instead with ``exclude_positives_from_queue``.) q_s is the query encoder's L2-normalised
projection of stream s, k_s the momentum key encoder's; InfoNCE is
:func:`mscl.losses.infonce.info_nce_top1` (temperature ``tau``), LMCL
:func:`mscl.losses.lmcl.local_motion_contrast`. :func:`objective` computes the weighted terms; the
training loop sums them with :func:`total_loss`. The model (:class:`mscl.pretrain.model.MSCL`)
only encodes the clips and keeps the queues.

Streams: ``rgb``, ``flow`` (the flow branch's first call) and ``flow_rot`` (its second call). What
the two flow calls hold is decided by the data path (``pretrain.flow_layout``, docs/mscl.md
§2.5): in the paper's layout the second call is the FRA-rotated copy of each clip; in the
released layout the first call contrasts a clip's original flow with the same clip rotated and
the second call does the same for the key clip. The terms below are the same in both.
Every InfoNCE term is one query stream, one positive-key stream and one bank of negatives:

* ``rgb`` / ``flow``: the age-decayed queue as it was before this step's keys were enqueued;
* ``flow_enqueued``: the flow queue after this step's first-call flow keys were enqueued. The
  released code reads it for the second-call MoCo term (so the first call's keys of the same
  video are negatives for its query) and for the RGB -> flow terms (so the positive key also
  sits among the negatives, docs/mscl.md §8.2).

The RGB bank that flow -> RGB terms read is captured before the RGB enqueue in the released code,
so it never holds the current keys.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from torch import Tensor

from mscl.losses.infonce import info_nce_top1
from mscl.losses.lmcl import local_motion_contrast

TERMS = (
    "rgb_moco", "flow_moco", "flow_rot_moco",
    "rgb_flow", "flow_rgb", "rgb_flow_rot", "flow_rot_rgb",
    "lmcl",
)
ROTATED_TERMS = frozenset({"flow_rot_moco", "rgb_flow_rot", "flow_rot_rgb"})
METHODS = ("mscl", "moco")
# which stream's keys fill each bank of negatives
BANK_SOURCE = {"rgb": "rgb", "flow": "flow", "flow_enqueued": "flow"}


class NceTerm(NamedTuple):
    """One InfoNCE term: query stream, positive-key stream, bank of negatives."""

    query: str
    key: str
    negatives: str


def nce_terms(*, exclude_positives_from_queue: bool = False) -> dict[str, NceTerm]:
    """The seven InfoNCE terms of docs/mscl.md §3.1-3.2.

    Args:
        exclude_positives_from_queue: False reproduces the released code (RGB -> flow and
            RGB -> rotated-flow read ``flow_enqueued``); True makes them read the flow queue from
            before this step's enqueue, so no term sees its own positive (or the original flow of
            the same clip) among its negatives. The rotated-flow MoCo term keeps
            ``flow_enqueued`` either way: there the current original-flow keys are the intended
            FRA negatives, never the positive.
    """
    cross = "flow" if exclude_positives_from_queue else "flow_enqueued"
    return {
        "rgb_moco": NceTerm("rgb", "rgb", "rgb"),
        "flow_moco": NceTerm("flow", "flow", "flow"),
        "flow_rot_moco": NceTerm("flow_rot", "flow_rot", "flow_enqueued"),
        "rgb_flow": NceTerm("rgb", "flow", cross),
        "flow_rgb": NceTerm("flow", "rgb", "rgb"),
        "rgb_flow_rot": NceTerm("rgb", "flow_rot", cross),
        "flow_rot_rgb": NceTerm("flow_rot", "rgb", "rgb"),
    }


def active_terms(
    weights: Mapping[str, float], *, method: str, lmcl: bool, fra: bool
) -> dict[str, float]:
    """Terms to compute, with their weights, in :data:`TERMS` order.

    A term runs when its weight is > 0 and the switches allow it: ``method="moco"`` keeps only
    ``rgb_moco``; ``lmcl=False`` drops ``lmcl``; ``fra=False`` drops every rotated-flow term.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    unknown = set(weights) - set(TERMS)
    if unknown:
        raise ValueError(f"unknown loss terms {sorted(unknown)}; known: {TERMS}")
    active = {}
    for name in TERMS:
        w = weights.get(name, 0.0)
        if w < 0:
            raise ValueError(f"loss weight of {name} is negative: {w}")
        allowed = (method == "mscl" or name == "rgb_moco") and (lmcl or name != "lmcl")
        if w > 0 and allowed and (fra or name not in ROTATED_TERMS):
            active[name] = float(w)
    if not active:
        raise ValueError("every loss term is disabled")
    return active


def needed_streams(
    active: Mapping[str, float], terms: Mapping[str, NceTerm], *, fra: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Streams whose queries and whose keys must be encoded for the active terms.

    Keys are also needed for every stream that fills a bank some active term reads, so the
    queue keeps receiving fresh keys. LMCL needs the RGB and flow queries (and the rotated-flow
    query when FRA is on) for their feature maps.
    Returns:
        (query streams, key streams), each ordered rgb, flow, flow_rot.
    """
    queries, keys = set(), set()
    for name in active:
        if name == "lmcl":
            queries |= {"rgb", "flow", "flow_rot"} if fra else {"rgb", "flow"}
            continue
        t = terms[name]
        queries.add(t.query)
        keys |= {t.key, BANK_SOURCE[t.negatives]}
    order = ("rgb", "flow", "flow_rot")
    return tuple(s for s in order if s in queries), tuple(s for s in order if s in keys)


def objective(
    active: Mapping[str, float], terms: Mapping[str, NceTerm], *, q: Mapping[str, Tensor], k: Mapping[str, Tensor],
    banks: Mapping[str, Tensor], lmcl_descriptors: Callable[[], tuple[Tensor, Tensor, Tensor | None]], temperature: float,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """The weighted terms of one step, and each term's contrastive top-1 (detached).

    Args:
        active: {term: weight} (:func:`active_terms`); terms: :func:`nce_terms`.
        q, k: {stream: (B, D)} query and key embeddings. banks: {bank: (D, K)} negatives.
        lmcl_descriptors: () -> (RGB, flow, second flow or None) descriptors (B, C, t) for LMCL,
            called only when ``lmcl`` is active.
    Returns:
        ({term: weight * loss}, {term: top-1}); :func:`total_loss` of the first is the training loss.
    """
    losses, top1 = {}, {}
    for name, weight in active.items():
        if name == "lmcl":
            loss, top1[name] = local_motion_contrast(*lmcl_descriptors(), temperature)
        else:
            t = terms[name]
            loss, top1[name] = info_nce_top1(q[t.query], k[t.key], banks[t.negatives], temperature)
        losses[name] = weight * loss
    return losses, top1


def total_loss(losses: Mapping[str, Tensor]) -> Tensor:
    """Sum of the (already weighted) named terms, docs/mscl.md §3.4."""
    return sum(losses.values())
