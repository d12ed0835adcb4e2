"""Pretraining data path (docs/mscl.md §2.2-2.4): a video -> augmented query and key views.

Which views an item holds depends on the method (:data:`METHOD_VIEWS`): MSCL's RGB and flow
clips; MoCo's two RGB clips; DCLR's two RGB clips and their static frames (docs/dclr.md). Only
MSCL reads flow: for the others the flow containers are never opened and every clip start of a
video is a candidate (there is no MDS without flow). Each method cuts clips with its own
geometry (:func:`clip_geometry`): MSCL's follows the flow stage's pairing, MoCo's and DCLR's
their own params. The text below describes the MSCL item.

One item per usable video of a split (an epoch is a pass over videos, as in MSCL). An item draws
a query start among the MDS-kept starts and a key start near it (docs/mscl.md §2.2), cuts clips that wrap
around the video end, reads RGB frame ``j*step`` with flow j by random access in the per-video
containers, then augments on the CPU (§2.3): per-frame max normalisation, one FRA angle per
sample rotating both clips' flow, and per view (query, key) one random resized crop and one flip
decision shared by the view's RGB clip and the two flow clips that :data:`FLOW_LAYOUTS` assigns
to it (``pretrain.flow_layout``). Colour augmentation of RGB and colour coding of
flow (§2.4) run on the training device in :func:`prepare_batch`, or in the loader workers when
``gpu_augment`` is false.

Raw items carry RGB as uint8 (a quarter of float32's bytes through worker shared memory and the
host-to-device copy) and flow as float32 normalised (u, v). A video whose containers cannot be
read is logged (once per video and process), replaced by another random video and counted in the
batch.
"""
from __future__ import annotations

import dataclasses
import logging
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from mscl.flow.colorwheel import NORM_EPS, flow_to_color
from mscl.data.sampler import EpochBatches
from mscl.io.flow_files import FlowReader, dequantize, max_lengths
from mscl.io.frames import FrameReader
from mscl.io.tables import USABLE
from mscl.params import PretrainParams
from mscl.sampling.clips import (clip_indices, rgb_index, sample_key_start, sample_query_start,
                                 sample_two_starts)
from mscl.transforms.color import color_augment
from mscl.transforms.flow_rotation import flow_rotation, fra_angle, fra_angle_index
from mscl.transforms.spatial import box_slices, draw_crop_flip, flip_flow, horizontal_flip, rescale_flow_vectors, resize_frames

# every view name, declared once (the model's keyword arguments): VIEW[clip][kind] for the query
# ("q") and key ("k") clip of a sample; "flow_rot" is the second flow field of the clip's view
# (which flow fills it: FLOW_LAYOUTS), "static" DCLR's one-frame view
VIEW = {
    "q": {"rgb": "rgb_q", "flow": "flow_q", "flow_rot": "flow_q_rot", "static": "static_q"},
    "k": {"rgb": "rgb_k", "flow": "flow_k", "flow_rot": "flow_k_rot", "static": "static_k"},
}
METHOD_KINDS = {"mscl": ("rgb", "flow", "flow_rot"), "moco": ("rgb",), "dclr": ("rgb", "static")}
# the views of one item per pretraining method
METHOD_VIEWS = {method: tuple(VIEW[clip][kind] for kind in kinds for clip in VIEW) for method, kinds in METHOD_KINDS.items()}
# what a missing, truncated or corrupt container raises while it is read
BAD_DATA = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile)
MAX_REPLACEMENTS = 20

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PretrainItem:
    """Both views of one video, ``views`` named as in :data:`METHOD_VIEWS`. Raw: rgb (3, T, S, S)
    and static (3, 1, S, S) uint8, flow (2, T, S, S) float32 normalised (u, v). Prepared: rgb and
    static ImageNet-normalised float, flow (3, T, S, S) in [0, 1]."""

    views: dict[str, Tensor]
    index: int  # dataset index of the video the views were cut from
    replaced: int  # unreadable videos skipped before this one
    prepared: bool


@dataclasses.dataclass(frozen=True)
class PretrainBatch:
    """A batch of :class:`PretrainItem`: views (B, C, T, S, S), index (B,) long, replaced =
    unreadable videos skipped while building it (for the training log)."""

    views: dict[str, Tensor]
    index: Tensor
    replaced: int
    prepared: bool

    def pin_memory(self) -> "PretrainBatch":
        """Page-locked copy (called by the DataLoader when ``pin_memory`` is on)."""
        pinned = {name: x.pin_memory() for name, x in self.views.items()}
        return dataclasses.replace(self, views=pinned, index=self.index.pin_memory())


# --------------------------------------------------------------------------- reading, per view work


def _check_pairing(flow_path: str | Path, meta: dict, offset: int, step: int) -> None:
    if (meta.get("offset"), meta.get("step")) != (offset, step):
        # a configuration error, not bad data: it must stop the run, not be skipped
        raise RuntimeError(f"{flow_path}: flow pairs (offset {meta.get('offset')}, step {meta.get('step')}), "
                           f"expected ({offset}, {step})")


class ClipFrames(NamedTuple):
    """Decoded frames of a sample: RGB frame ``j*step`` and flow j for some flow indices j, and
    ``index``, which of them each requested index is. The frames stay as decoded, one array each:
    the augmentation resizes each frame's box straight from it (:func:`crop_rgb`,
    :meth:`FlowClip.crop`), so no whole frame is ever copied after its decode."""

    rgb: list[np.ndarray]  # N frames (H, W, 3) uint8
    flow: list[np.ndarray] | None  # N flows (H, W, 2) uint8 quantised (mscl.io.flow_files.dequantize)
    bound: float | None
    lengths: np.ndarray | None  # (N,) longest flow vector of each frame (its max normalisation)
    index: np.ndarray  # (len(indices),) into the N frames


def read_clip_frames(frames_path: str | Path, flow_path: str | Path | None, indices: np.ndarray, *,
                     offset: int | None, step: int) -> ClipFrames:
    """RGB frame ``j*step`` and flow j of every flow index j in ``indices``, each distinct index
    read and decoded once. Flow and bound are None when ``flow_path`` is (methods without flow,
    whose positions j are their own: ``offset`` is then unused)."""
    uniq, inv = np.unique(indices, return_inverse=True)
    with FrameReader(frames_path) as vr:
        rgb = vr.read_each(rgb_index(uniq, step))
    if flow_path is None:
        return ClipFrames(rgb, None, None, None, inv)
    with FlowReader(flow_path) as fr:
        _check_pairing(flow_path, fr.meta, offset, step)
        flow, bound = fr.read_quantized_each(uniq), fr.bound
    if rgb[0].shape[:2] != flow[0].shape[:2]:
        raise ValueError(f"frames {rgb[0].shape[:2]} and flow {flow[0].shape[:2]} differ in size")
    return ClipFrames(rgb, flow, bound, max_lengths(flow, bound), inv)


class VideoCache:
    """Decoded videos kept in one process's memory, up to a byte budget (first come, first kept).

    Small datasets are decoded once per loader process instead of every epoch; on data larger
    than the budget the first videos stay cached and the rest are read per item as before.
    Stored: a video's :class:`ClipFrames` of all its L flow indices.
    """

    def __init__(self, budget_bytes: int):
        self.budget, self.used = budget_bytes, 0
        self.videos: dict[int, ClipFrames] = {}

    def read(self, v: int, frames_path: str, flow_path: str | None, L: int, indices: np.ndarray, *,
             offset: int | None, step: int) -> ClipFrames:
        """:func:`read_clip_frames` of video ``v`` (``L`` flows), from memory when cached (the
        whole cached video, indexed: nothing is copied)."""
        if v not in self.videos:
            if self.budget <= 0 or self.used >= self.budget:
                return read_clip_frames(frames_path, flow_path, indices, offset=offset, step=step)
            video = read_clip_frames(frames_path, flow_path, np.arange(L), offset=offset, step=step)
            self.videos[v] = video
            self.used += sum(f.nbytes for f in video.rgb + (video.flow or []))
        return self.videos[v]._replace(index=np.asarray(indices))


# Which flow clip fills each flow field of a batch, per ``pretrain.flow_layout`` (docs/mscl.md
# §2.5). A field ending in ``q`` is cut with the query view's crop and flip, one ending in ``k``
# with the key view's; the value names the flow ("orig" or FRA-"rot"ated) and the clip ("q" =
# query clip, "k" = key clip). The model's first flow call reads flow_q / flow_k, its second
# call flow_q_rot / flow_k_rot, and LMCL's extra negatives are flow_q_rot.
FLOW_LAYOUTS = {
    # the released data pipeline: the flow MoCo positive is the same clip rotated, and the
    # second call and LMCL contrast the key clip's original flow (another moment of the video)
    "released": {"flow_q": ("orig", "q"), "flow_q_rot": ("orig", "k"),
                 "flow_k": ("rot", "q"), "flow_k_rot": ("rot", "k")},
    # the paper's description: rotated flow of each clip is a motion-shuffled copy of it
    "paper": {"flow_q": ("orig", "q"), "flow_q_rot": ("rot", "q"),
              "flow_k": ("orig", "k"), "flow_k_rot": ("rot", "k")},
}


@dataclasses.dataclass(frozen=True)
class FlowClip:
    """One flow clip before its view's crop: ``frames`` (T,), which of the sample's decoded
    uint8 quantised flows ``flows`` form it (pixels = ``dequantize(flow, bound)``), ``scale`` (T,) the
    per-frame max normalisation (1 / longest vector) and ``angle`` the FRA rotation (None: none).

    Dequantisation, normalisation and rotation act on each vector alone (an affine map, a
    per-frame factor, a linear map), and the crop's bilinear resampling is a weighted average of
    vectors, so all three are applied to the small cropped clip (dequantisation to the box's
    pixels only) instead of the full frames: the result is the same up to rounding.
    """

    flows: list[np.ndarray]
    frames: np.ndarray
    bound: float
    scale: Tensor
    angle: float | None

    def pixels(self, rows: slice, cols: slice) -> np.ndarray:
        """The clip's window ``rows`` x ``cols`` dequantised: (T, h, w, 2) float32 pixels."""
        return dequantize(np.stack([self.flows[j][rows, cols] for j in self.frames]), self.bound)

    def crop(self, box: Tensor, size: int) -> Tensor:
        """The clip's ``box`` resized to ``size`` (:func:`resize_frames`): (2, T, size, size) float
        pixels, before normalisation and rotation."""
        return torch.from_numpy(resize_frames(self.pixels(*box_slices(box)), size)).permute(3, 0, 1, 2)


def flow_clips(decoded: ClipFrames, generator: torch.Generator, *, fra: bool) -> dict[tuple[str, str], FlowClip]:
    """The four flow clips of a sample (its ``decoded.index`` lists the frames of the query clip,
    then of the key clip), keyed as in :data:`FLOW_LAYOUTS`.

    Args:
        fra: rotate the "rot" clips by one FRA angle drawn for the whole sample, shared by both
            clips (docs/mscl.md §2.3); False keeps them unrotated.
    """
    angle = fra_angle(fra_angle_index(generator)) if fra else None
    scale = torch.from_numpy(1.0 / (decoded.lengths + NORM_EPS))  # (N,) per-frame normalisation (§2.3)
    T = len(decoded.index) // 2
    return {(kind, name): FlowClip(decoded.flow, frames, decoded.bound, scale[frames], angle if kind == "rot" else None)
            for kind in ("orig", "rot") for name, frames in (("q", decoded.index[:T]), ("k", decoded.index[T:]))}


def crop_rgb(rgb: list[np.ndarray], frames: np.ndarray, generator: torch.Generator,
             p: PretrainParams) -> tuple[Tensor, Tensor, Tensor]:
    """One view's random resized crop and flip of the RGB clip ``frames`` (T,) of the decoded
    uint8 frames ``rgb`` (:func:`draw_crop_flip`'s draws for one clip): (3, T, S, S) uint8, the
    box (4,) and the flip decision ()."""
    box, flip = draw_crop_flip((3, 1, *rgb[0].shape[:2]), generator, scale=tuple(p.crop_scale), flip_p=p.flip_p)
    rows, cols = box_slices(box)
    clip = resize_frames([rgb[j][rows, cols] for j in frames], p.crop_size)  # (T, S, S, 3) uint8
    return horizontal_flip(torch.from_numpy(clip).permute(3, 0, 1, 2), flip), box, flip


def augment_view(rgb: list[np.ndarray], frames: np.ndarray, clips: tuple[FlowClip, FlowClip],
                 generator: torch.Generator, p: PretrainParams) -> tuple[Tensor, Tensor, Tensor]:
    """CPU augmentation of one view (docs/mscl.md §2.3): one random resized crop and one
    flip decision shared by the view's RGB clip and its two flow clips.

    Order, per flow clip: crop (dequantising only the box's pixels), max normalisation, FRA
    rotation, (``rescale_flow``) vector rescaling, flip; the same result as normalising and
    rotating the full frames before the crop. The RGB crop resizes the uint8 boxes as they are
    (:func:`mscl.transforms.spatial.resize_frames`), and no frame is copied whole.

    Args:
        rgb: the sample's decoded frames (H, W, 3) uint8; frames: (T,) those of the clip;
        clips: the view's two flow clips (:class:`FlowClip`).
    Returns:
        rgb (3, T, S, S) uint8, two flows (2, T, S, S) float normalised, S = ``p.crop_size``.
    """
    rgb_clip, boxes, flips = crop_rgb(rgb, frames, generator, p)
    flows, crops = [], {}
    for clip in clips:
        key = clip.frames.tobytes()  # the paper's layout crops the same frames for both fields
        if key not in crops:
            crops[key] = clip.crop(boxes, p.crop_size)
        f = crops[key] * clip.scale[:, None, None]
        if clip.angle is not None:
            f = flow_rotation(f, clip.angle)
        if p.rescale_flow:
            f = rescale_flow_vectors(f, boxes, p.crop_size)
        flows.append(flip_flow(f, flips, negate_u=p.flip_negate_u))
    return rgb_clip, flows[0], flows[1]


def augment_rgb(rgb: list[np.ndarray], frames: np.ndarray, generator: torch.Generator, p: PretrainParams) -> Tensor:
    """CPU augmentation of an RGB clip without flow (MoCo, DCLR): :func:`crop_rgb`, the draws of
    the RGB part of :func:`augment_view`. Returns (3, T, S, S) uint8."""
    return crop_rgb(rgb, frames, generator, p)[0]


def jitter_per_clip(p: PretrainParams) -> bool:
    """Whether colour jitter is drawn once per clip: always with DCLR, whose release draws it per
    clip (a per-frame draw makes the dynamic view of a still scene flicker: false motion, and a
    cue that tells V from S); with MSCL and MoCo as ``color_consistent`` says (docs/mscl.md §8.6)."""
    return p.method == "dclr" or p.color_consistent


def color_code(flow: Tensor) -> Tensor:
    """Colour-wheel picture of normalised flow. (..., 2, T, H, W) -> (..., 3, T, H, W) in [0, 1]."""
    return flow_to_color(flow.movedim(-4, -3)).movedim(-3, -4)


def finish_augmentation(views: dict[str, Tensor], generator: torch.Generator, p: PretrainParams) -> dict[str, Tensor]:
    """docs/mscl.md §2.4 on raw views: colour augmentation + ImageNet normalisation of RGB and static
    views (uint8 -> float, one draw per clip; jitter factors per frame unless :func:`jitter_per_clip`),
    colour coding of flow. Works per item (C, T, H, W) or per batch (B, C, T, H, W)."""
    out = {}
    for name, x in views.items():
        if not name.startswith("flow"):
            out[name] = color_augment(x.float() / 255, generator, consistent=jitter_per_clip(p))
        else:
            out[name] = color_code(x)
    return out


# --------------------------------------------------------------------------- dataset


def video_table(samples: pd.DataFrame, frames_manifest: pd.DataFrame, flow_manifest: pd.DataFrame,
                split: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Videos of ``split`` with usable frames and flow, and their kept starts as a ragged array.

    Returns:
        table (video_id, frames, flow, num_flows) sorted by video_id; kept (K,) int64 starts of
        all videos, increasing per video; ptr (V+1,): video v keeps ``kept[ptr[v]:ptr[v+1]]``.
    """
    s = samples[samples["split"] == split]
    frames = frames_manifest.loc[frames_manifest["status"].isin(USABLE), ["video_id", "frames"]]
    flow = flow_manifest.loc[flow_manifest["status"].isin(USABLE) & (flow_manifest["num_flows"] > 0),
                             ["video_id", "flow", "num_flows"]]
    count = s.groupby("video_id").size().rename("candidates").reset_index()
    table = count.merge(frames, on="video_id").merge(flow, on="video_id").sort_values("video_id", ignore_index=True)
    stale = table[table["candidates"] != table["num_flows"]]
    if len(stale):
        r = stale.iloc[0]
        raise ValueError(f"samples table and flow manifest disagree for {len(stale)} videos (e.g. {r.video_id}: "
                         f"{r.candidates} candidate starts, {r.num_flows} flows); rerun the screen stage")
    k = s[s["kept"].astype(bool)]
    code = pd.Categorical(k["video_id"], categories=table["video_id"]).codes  # -1: video not in the table
    order = np.lexsort((k["start"].to_numpy(), code))
    code, starts = code[order], k["start"].to_numpy(np.int64)[order]
    code, starts = code[code >= 0], starts[code >= 0]
    return table, starts, np.searchsorted(code, np.arange(len(table) + 1))


def frame_table(videos: pd.DataFrame, frames_manifest: pd.DataFrame, split: str, *,
                step: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """:func:`video_table` for methods without flow: every video of ``split`` with usable frames,
    its length L in positions (stored frames 0, ``step``, 2 ``step``, ...) and every start kept.

    Returns:
        table (video_id, frames, num_flows = L), kept starts, ptr (as :func:`video_table`).
    """
    ids = videos.loc[videos["split"] == split, ["video_id"]]
    frames = frames_manifest.loc[frames_manifest["status"].isin(USABLE), ["video_id", "frames", "num_frames"]]
    table = ids.merge(frames, on="video_id").sort_values("video_id", ignore_index=True)
    table["num_flows"] = [len(range(0, int(n), step)) for n in table["num_frames"]]
    table = table[table["num_flows"] > 0].reset_index(drop=True)
    lengths = table["num_flows"].to_numpy(np.int64)
    kept = np.concatenate([np.arange(n) for n in lengths]) if len(table) else np.zeros(0, np.int64)
    return table, kept, np.concatenate([[0], np.cumsum(lengths)])


class ClipGeometry(NamedTuple):
    """How a method cuts its two clips from a video of L positions, position j being stored frame
    ``j * step``: ``clip_len`` positions ``interval`` apart; ``independent`` draws the two clips
    anywhere in the video (DCLR), otherwise the key starts near the query (MSCL, MoCo)."""

    step: int
    clip_len: int
    interval: int
    independent: bool


def clip_geometry(p: PretrainParams, flow_step: int | None = None) -> ClipGeometry:
    """The clip geometry of ``p.method``. MSCL's positions are its flow's (``flow_step``: RGB frame
    ``j*step`` pairs with flow j); MoCo's are ``moco_frame_step`` frames apart; DCLR's are the
    stored frames: its clips are ``dclr_clip_len`` frames ``dclr_stride`` apart, the frame gap its
    dynamic view measures motion over, so no method but MSCL depends on the flow stage's pairing."""
    if p.method == "dclr":
        return ClipGeometry(step=1, clip_len=p.dclr_clip_len, interval=p.dclr_stride, independent=True)
    if p.method == "moco":
        return ClipGeometry(step=p.moco_frame_step, clip_len=p.clip_len, interval=p.interval, independent=False)
    if flow_step is None:
        raise ValueError("MSCL's clips follow the flow's pairing: give its step")
    return ClipGeometry(step=flow_step, clip_len=p.clip_len, interval=p.interval, independent=False)


class PretrainDataset(Dataset):
    """Pretraining views of every usable video of a split (see the module docstring).

    Per-video fields are numpy arrays (no Python object per video), so forked loader workers
    do not copy them page by page through reference counting.

    Methods without flow (``p.needs_flow`` false) pass ``videos`` (the index: video_id, split)
    instead of ``samples`` and the flow manifest, no ``flow_dir`` and no flow pairing (``offset``,
    ``step``: MSCL's, read from its flow containers).
    """

    def __init__(self, samples: pd.DataFrame | None, frames_manifest: pd.DataFrame, flow_manifest: pd.DataFrame | None,
                 frames_dir: str | Path, flow_dir: str | Path | None, *, p: PretrainParams, offset: int | None = None,
                 step: int | None = None, split: str = "train", max_replacements: int = MAX_REPLACEMENTS,
                 videos: pd.DataFrame | None = None):
        if len(p.crop_scale) != 2:
            raise ValueError(f"pretrain.crop_scale needs two values (min, max area), got {p.crop_scale}")
        self.geometry = clip_geometry(p, step)
        if p.needs_flow:
            table, self.kept, self.kept_ptr = video_table(samples, frames_manifest, flow_manifest, split)
            what = "frames, flow and screened samples"
        else:
            table, self.kept, self.kept_ptr = frame_table(videos, frames_manifest, split, step=self.geometry.step)
            what = "frames"
        if not len(table):
            raise ValueError(f"no video of split {split!r} has usable {what}")
        self.video_ids = table["video_id"].to_numpy(str)
        self.frames = np.array([str(Path(frames_dir) / f) for f in table["frames"]])
        self.flows = np.array([str(Path(flow_dir) / f) for f in table["flow"]]) if p.needs_flow else None
        self.num_flows = table["num_flows"].to_numpy(np.int64)  # L: positions (MSCL: flows) per video
        self.p, self.offset, self.max_replacements = p, offset, max_replacements
        self.shift = p.shift_range * p.clip_len * p.interval  # docs/mscl.md §2.2: U[-64, 64] in MSCL
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()  # seen by persistent workers
        self._bad: set[int] = set()  # per process: unreadable videos, never drawn again
        self._cache = VideoCache(p.cache_mb * 2**20)  # per process

    def __len__(self) -> int:
        return len(self.video_ids)

    def set_epoch(self, epoch: int) -> None:
        """Reseed every item's randomness for ``epoch`` (also in running workers)."""
        self._epoch.fill_(epoch)

    def kept_starts(self, v: int) -> np.ndarray:
        """(K,) MDS-kept starts of video ``v``, possibly empty (static video)."""
        return self.kept[self.kept_ptr[v] : self.kept_ptr[v + 1]]

    def generators(self, i: int) -> tuple[np.random.Generator, torch.Generator]:
        """Item ``i``'s random streams, a function of (seed, epoch, i) only: the same views for any
        number of workers, different views for every item and epoch."""
        rng = np.random.default_rng([self.p.seed, int(self._epoch), i])
        return rng, torch.Generator().manual_seed(int(rng.integers(2**62)))

    def __getitem__(self, i: int) -> PretrainItem:
        rng, gen = self.generators(i)
        v, replaced = i, 0
        while True:
            try:
                return self.item(v, rng, gen, replaced=replaced)
            except BAD_DATA as e:
                if v not in self._bad:
                    log.warning("pretrain data: skipping %s (%s: %s)", self.video_ids[v], type(e).__name__, e)
                self._bad.add(v)
                replaced += 1
                if replaced > self.max_replacements or len(self._bad) == len(self):
                    raise RuntimeError(f"{replaced} videos in a row could not be read (last {self.video_ids[v]}: "
                                       f"{e}); check the frames and flow containers") from e
                v = self._replacement(rng)

    def _replacement(self, rng: np.random.Generator) -> int:
        while True:
            v = int(rng.integers(len(self)))
            if v not in self._bad:
                return v

    def clip_starts(self, v: int, rng: np.random.Generator) -> tuple[int, int]:
        """Query and key clip starts of video ``v``: two independent clips (DCLR), or a query start
        among the MDS-kept starts and a key start near it (docs/mscl.md §2.2)."""
        g, p, L = self.geometry, self.p, int(self.num_flows[v])
        if g.independent:
            return sample_two_starts(rng, L, g.clip_len, g.interval)
        kept = self.kept_starts(v)
        q = sample_query_start(rng, L, g.clip_len, g.interval, kept, p.retries)
        return q, sample_key_start(rng, q, kept, self.shift, p.key_start)

    def item(self, v: int, rng: np.random.Generator, gen: torch.Generator, *, replaced: int = 0) -> PretrainItem:
        """Views of video ``v`` drawn with ``rng`` (clip starts) and ``gen`` (augmentation)."""
        p, g, L = self.p, self.geometry, int(self.num_flows[v])
        q, k = self.clip_starts(v, rng)
        idx = [clip_indices(q, g.clip_len, g.interval, L), clip_indices(k, g.clip_len, g.interval, L)]
        static = "static" in METHOD_KINDS[p.method]
        if static:
            # DCLR's static frame: one of the clip_len * interval frames each clip is cut from, at
            # the same place in both clips (the release: one index into both raw 32-frame clips)
            u = int(rng.integers(g.clip_len * g.interval))
            idx.append(np.array([(q + u) % L, (k + u) % L]))
        flow_path = self.flows[v] if self.flows is not None else None
        decoded = self._cache.read(v, self.frames[v], flow_path, L, np.concatenate(idx), offset=self.offset,
                                   step=g.step)
        rgb = decoded.rgb
        T = g.clip_len
        parts = (("q", decoded.index[:T]), ("k", decoded.index[T : 2 * T]))  # each clip's frames of the N
        if decoded.flow is None:
            views = {VIEW[clip]["rgb"]: augment_rgb(rgb, frames, gen, p) for clip, frames in parts}
            if static:  # each static frame cropped and flipped on its own: (3, 1, S, S)
                views |= {VIEW[clip]["static"]: augment_rgb(rgb, decoded.index[2 * T + i : 2 * T + i + 1], gen, p)
                          for i, clip in enumerate(VIEW)}
        else:
            views = self.rgb_flow_views(decoded, parts, gen)
        views = {name: views[name] for name in METHOD_VIEWS[p.method]}
        if not p.gpu_augment:
            views = finish_augmentation(views, gen, p)
        return PretrainItem(views=views, index=v, replaced=replaced, prepared=not p.gpu_augment)

    def rgb_flow_views(self, decoded: ClipFrames, parts, gen: torch.Generator) -> dict[str, Tensor]:
        """MSCL's six clips from the decoded RGB frames and flows."""
        p = self.p
        layout = FLOW_LAYOUTS[p.flow_layout]
        flows = flow_clips(decoded, gen, fra=p.fra)
        views = {}
        for clip, frames in parts:
            first, second = VIEW[clip]["flow"], VIEW[clip]["flow_rot"]
            r, f1, f2 = augment_view(decoded.rgb, frames, (flows[layout[first]], flows[layout[second]]), gen, p)
            views |= {VIEW[clip]["rgb"]: r, first: f1, second: f2}
        return views


# --------------------------------------------------------------------------- batches and loader


def collate(items: list[PretrainItem]) -> PretrainBatch:
    """Stack items into a :class:`PretrainBatch` (the DataLoader's ``collate_fn``)."""
    views = {name: torch.stack([it.views[name] for it in items]) for name in items[0].views}
    return PretrainBatch(views=views, index=torch.tensor([it.index for it in items]),
                         replaced=sum(it.replaced for it in items), prepared=all(it.prepared for it in items))


def augment_generator(seed: int, step: int, rank: int) -> torch.Generator:
    """The random stream of the device-side augmentation of one step on one process: a function of
    (seed, step, rank), so a resumed run draws the same jitter and every process draws its own
    (their items differ; equal streams would give them the same colour decisions)."""
    state = np.random.SeedSequence([seed, step, rank]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state >> np.uint64(1)))


def prepare_batch(batch: PretrainBatch, device: torch.device | str, generator: torch.Generator,
                  p: PretrainParams) -> PretrainBatch:
    """Move a batch to ``device`` and finish its augmentation there (docs/mscl.md §2.4).

    Args:
        generator: CPU generator of the device-side augmentation (unused for prepared batches).
    Returns:
        rgb and static views ImageNet-normalised float, flow views (B, 3, T, S, S) colour-coded in
        [0, 1], on ``device``.
    """
    views = {name: x.to(device, non_blocking=True) for name, x in batch.views.items()}
    if not batch.prepared:
        views = finish_augmentation(views, generator, p)
    return dataclasses.replace(batch, views=views, prepared=True)


def make_loader(dataset: PretrainDataset, p: PretrainParams, *, rank: int = 0, world_size: int = 1,
                pin_memory: bool = False) -> DataLoader:
    """Loader of ``p.batch_size // world_size`` items per process over :class:`EpochBatches`
    (same global batches for any number of processes, resumable mid-epoch); iterate it with
    :func:`mscl.data.sampler.batches_from`."""
    sampler = EpochBatches(len(dataset), batch_size=p.batch_size, seed=p.seed, rank=rank, world_size=world_size)
    # its own generator: creating an epoch's iterator draws a worker seed, which must not come from
    # the global RNG (shuffle-BN's permutations), or a run resumed mid-epoch would drift from the
    # uninterrupted one; items do not use worker seeds (their randomness is (seed, epoch, index))
    return DataLoader(dataset, batch_sampler=sampler, num_workers=p.workers, collate_fn=collate,
                      pin_memory=pin_memory, persistent_workers=p.workers > 0,
                      generator=torch.Generator().manual_seed(p.seed))
