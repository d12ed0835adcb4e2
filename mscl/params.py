"""Typed, validated views of ``params.yaml``: one frozen dataclass per section, and one per named
dataset of the ``datasets`` section.

Every stage calls :func:`stage_params` before doing any work; it validates every section of the
file and the rules across sections (:func:`check_roles`: the datasets the roles name exist, ...),
so a typo, a wrong type, an out-of-range value or a bad combination anywhere stops the run at
once with one line that names the key.
Ranges live next to the field as ``metadata`` (``min``/``max`` inclusive, ``choices``), and so
does whether the field changes what its stage writes (``output``; :func:`output_values`), which is
what a resumable stage fingerprints.

Values have one home: the params file. The dataclasses hold no defaults; the repository's
``params.yaml`` (the CPU demo) is the default set, read by :func:`default` where code needs a
section without a file (tests, benchmarks), and the paper's settings are the preset
``presets/paper.yaml`` (:mod:`mscl.preset`).
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ParamsError(ValueError):
    """A params.yaml section is missing, has an unknown key, a wrong type or a bad value."""


def _f(*, min=None, max=None, choices=None, doc="", output=True):
    """A dataclass field with its validation rule: range, choices, what it means, and whether it
    changes what its stage writes (``output=False``: how a stage works, e.g. processes, device,
    logging). No default: every value comes from a params file (:func:`default` reads the
    repository's ``params.yaml``)."""
    return field(metadata={"min": min, "max": max, "choices": choices, "doc": doc, "output": output})


DEVICES = ("auto", "cpu", "cuda")
BACKBONES = ("r3d_18", "r2plus1d_18", "r2plus1d_10")  # mscl.models.r3d.BACKBONES (params imports no model code)


# --------------------------------------------------------------------------- sections


# the keys each source reads (a dataset lists exactly these, besides ``source``)
SOURCE_KEYS = {
    "synthetic": ("videos_per_class", "num_frames", "height", "width", "fps", "speed", "family", "test_fraction",
                  "val_fraction", "seed"),
    "folder": ("root", "test_fraction", "val_fraction"),
    "ucf101": ("root", "splits", "val_fraction"),
    "hmdb51": ("root", "splits", "val_fraction"),
    "ssv2": ("root", "val_fraction"),
    "kinetics": ("root", "val_fraction"),
}
DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # a folder name and a DVC stage key


@dataclass(frozen=True)
class DatasetParams:
    """One named dataset, ``datasets.<name>``: where its videos come from and how they split into
    train / val / test (docs/datasets.md). A source reads only its own keys (:data:`SOURCE_KEYS`);
    the others are None and may not be given."""

    source: str = _f(choices=tuple(SOURCE_KEYS))
    root: str | None = _f(doc="the dataset's root folder")
    splits: tuple[int, ...] | None = _f(min=1, max=3, doc="official splits (UCF101, HMDB51): [1], or several, "
                                                          "each evaluated and their mean reported")
    test_fraction: float | None = _f(min=0.0, max=0.9, doc="share of each class in test (synthetic; folder "
                                                           "without split folders)")
    val_fraction: float | None = _f(min=0.0, max=0.9, doc="share of each class in val (official layouts: of "
                                                          "train's groups of videos)")
    # synthetic generator
    videos_per_class: int | None = _f(min=1)
    num_frames: int | None = _f(min=2)
    height: int | None = _f(min=16)
    width: int | None = _f(min=16)
    fps: int | None = _f(min=1)
    speed: float | None = _f(min=0.0, doc="motion speed, pixels per frame (zoom/rotation scaled to match)")
    family: str | None = _f(choices=("direction", "relative", "layers"), doc="synthetic motion classes: direction (8: "
                            "translations, rotations, zooms), relative (4: the background's motion against the "
                            "object's) or layers (4: which of object and background moves), docs/benchmarks.md")
    seed: int | None = _f(min=0)


@dataclass(frozen=True)
class ClusterParams:
    """Where the per-video stages (frames, flow, screen) run their work. Never changes an output."""

    executor: str = _f(choices=("local", "ray"),
                       doc="local: worker processes on this machine; ray: tasks on a Ray cluster (extra 'ray')")
    address: str = _f(doc="ray: '' joins the cluster started on this machine or starts a private one; "
                              "'auto' requires a running cluster; or 'host:port' / 'ray://host:10001'")
    max_retries: int = _f(min=0, doc="ray: times a task whose worker died is retried before its video is reported failed")
    in_flight: int = _f(min=0, doc="ray: tasks submitted at once (0 = twice the cluster's CPUs); bounds driver memory")


@dataclass(frozen=True)
class FramesParams:
    """Decoding of every indexed video into one per-video frame container."""

    short_side: int = _f(min=16)
    fps: float = _f(min=0.0, doc="0 keeps the native frame rate")
    # not fingerprinted: it decides a video's status only, applied again to a reused container
    min_frames: int = _f(min=1, doc="videos with fewer decoded frames are marked too_short", output=False)
    max_frames: int = _f(min=0, doc="0 = no limit; otherwise keep only the first max_frames")
    jpeg_quality: int = _f(min=1, max=100)
    workers: int = _f(min=1, output=False)


@dataclass(frozen=True)
class FlowParams:
    """TV-L1 optical flow between stored frames i and i + offset, every step frames.

    The TV-L1 fields mirror OpenCV's ``DualTVL1OpticalFlow`` parameters and defaults.
    """

    backend: str = _f(choices=("auto", "opencv", "torch"), output=False)
    device: str = _f(choices=DEVICES, output=False)
    splits: tuple[str, ...] = _f(choices=("train", "val", "test"),
                                 doc="which splits get flow (pretraining reads the train split only)", output=False)
    offset: int = _f(min=1)
    step: int = _f(min=1)
    compose: bool = _f(doc="TV-L1 between consecutive frames, chained over the offset (mscl/flow/compose.py): for "
                           "offsets whose motion is too large for TV-L1 to find directly")
    bound: float = _f(min=1.0, max=255.0)
    storage: str = _f(choices=("raw", "png"),
                      doc="raw: uint8 arrays, fast to read (~4x the bytes); png: two PNGs per flow, smaller")
    workers: int = _f(min=1, output=False)
    batch_pairs: int = _f(min=1, doc="frame pairs per batch of the torch backend", output=False)
    pictures: int = _f(min=0, doc="flow pictures rendered under reports/flow/", output=False)
    interpolation: str = _f(choices=("bicubic", "bilinear"))
    compile: bool = _f(doc="torch.compile the torch backend's iterations (applied on CUDA only)", output=False)
    tau: float = _f(min=1e-6, max=0.25)
    lambda_: float = _f(min=1e-6)
    theta: float = _f(min=1e-6)
    scales: int = _f(min=1, max=20)
    warps: int = _f(min=1)
    epsilon: float = _f(min=0.0)
    inner_iterations: int = _f(min=1)
    outer_iterations: int = _f(min=1)
    scale_step: float = _f(min=0.1, max=0.99)
    gamma: float = _f(min=0.0)
    median_filtering: int = _f(choices=(1, 3, 5), doc="OpenCV's float median filter takes 3 or 5 (1 = off)")

    def __post_init__(self):
        if self.compose and self.step > self.offset:
            raise ParamsError(f"params.yaml: flow.compose chains every frame pair up to the last flow's end: flow.step "
                              f"({self.step}) must not exceed flow.offset ({self.offset})")


@dataclass(frozen=True)
class ScreenParams:
    """Motion Differential Sampling (docs/mscl.md §4): which clip starts pretraining uses."""

    enabled: bool = _f(doc="false keeps every candidate start (the MDS ablation)")
    block: int = _f(min=1, doc="attention pooling block, pixels")
    clip_len: int = _f(min=1, doc="flows per scored clip")
    stride: int = _f(min=1, doc="flow-index step inside a scored clip")
    device: str = _f(choices=DEVICES)
    pictures: bool = _f(doc="draw kept vs rejected motion scores under reports/screen/")


FLOW_METHODS = ("mscl",)  # pretraining methods that read optical flow


@dataclass(frozen=True)
class PretrainParams:
    """Self-supervised pretraining (docs/mscl.md §1-3 and §5). The paper's values: presets/paper.yaml."""

    method: str = _f(choices=("mscl", "moco", "dclr"),
                     doc="mscl (needs flow) | moco (MoCo v2 on RGB) | dclr (static/dynamic views, no flow)")
    data: str = _f(doc="the named dataset pretraining reads: its train split, never its labels")
    monitor: str = _f(doc="the evaluation set whose val split the kNN monitor classifies", output=False)
    device: str = _f(choices=DEVICES)
    seed: int = _f(min=0)
    # data (docs/mscl.md §2.2-2.4), in flow-index units (MSCL; MoCo in positions of moco_frame_step frames)
    clip_len: int = _f(min=1, doc="MSCL and MoCo: frames per clip")
    interval: int = _f(min=1, doc="MSCL and MoCo: clip positions between a clip's frames")
    moco_frame_step: int = _f(min=1, doc="MoCo: clip position j is stored frame j * moco_frame_step (flow.step "
                                         "gives MSCL's RGB clips)")
    shift_range: int = _f(min=0, doc="key start near query + U[-s, s], s = shift_range*clip_len*interval")
    key_start: str = _f(choices=("released", "nearest"),
                        doc="released = the reference's loop over kept starts; nearest = the nearest kept start")
    flow_layout: str = _f(choices=("released", "paper"),
                          doc="which flow clips feed the two flow calls (docs/mscl.md §2.5)")
    retries: int = _f(min=0, doc="query start redraws until it lies in the MDS-kept starts")
    crop_size: int = _f(min=16)
    crop_scale: tuple[float, ...] = _f(min=0.01, max=1.0)
    flip_p: float = _f(min=0.0, max=1.0, doc="horizontal flip probability per view (MSCL 0.5; 0 where direction is the label)")
    flip_negate_u: bool = _f(doc="corrected flip of flow (docs/mscl.md §8.5); literal = false")
    rescale_flow: bool = _f(doc="scale flow vectors with the crop resize (physically consistent)")
    color_consistent: bool = _f(doc="one colour-jitter draw per clip (docs/mscl.md §8.6); literal = false")
    gpu_augment: bool = _f(doc="colour jitter and flow colour coding on the training device")
    workers: int = _f(min=0, doc="data loader processes", output=False)
    cache_mb: int = _f(min=0, doc="decoded videos kept in memory per loader process, MiB (0 = off)")
    # model (docs/mscl.md §1 and §3)
    backbone: str = _f(choices=BACKBONES, doc="MSCL's and MoCo's RGB encoder, kept for downstream use")
    width: int = _f(min=4, doc="backbone stem width (64 = torchvision's architecture)")
    flow_width: int = _f(min=4, doc="flow encoder base width (its channels are width/4 .. 2 width)")
    dim: int = _f(min=1)
    queue_size: int = _f(min=1)
    temperature: float = _f(min=1e-4)
    queue_decay: float = _f(min=0.0, max=1.0)
    rgb_moco_weight: float = _f(min=0.0)
    flow_moco_weight: float = _f(min=0.0)
    flow_rot_moco_weight: float = _f(min=0.0)
    rgb_flow_weight: float = _f(min=0.0)
    flow_rgb_weight: float = _f(min=0.0)
    rgb_flow_rot_weight: float = _f(min=0.0)
    flow_rot_rgb_weight: float = _f(min=0.0)
    lmcl_weight: float = _f(min=0.0)
    lmcl: bool = _f(doc="local motion contrast (LMCL) switch")
    fra: bool = _f(doc="flow rotation augmentation switch: false drops every rotated-flow term")
    exclude_positives_from_queue: bool = _f(doc="docs/mscl.md §8.2; literal = false")
    single_flow_momentum_update: bool = _f(doc="docs/mscl.md §8.3; literal = false (two updates per step)")
    # DCLR (docs/dclr.md); its own constants, used only with method: dclr
    dclr_vv_weight: float = _f(min=0.0, doc="RGB -> RGB of the other clip")
    dclr_vs_weight: float = _f(min=0.0, doc="static-weighted RGB -> static view")
    dclr_sv_weight: float = _f(min=0.0, doc="static view -> static-weighted RGB")
    dclr_vd_weight: float = _f(min=0.0, doc="dynamic-weighted RGB -> dynamic view")
    dclr_dv_weight: float = _f(min=0.0, doc="dynamic view -> dynamic-weighted RGB")
    dclr_momentum: float = _f(min=0.0, max=1.0, doc="constant key-encoder momentum; 0 = MSCL's cosine schedule")
    dclr_queue_decay: float = _f(min=0.0, max=1.0, doc="age decay of queued negatives (1 = none, as DCLR)")
    dclr_lr_milestones: tuple[float, ...] = _f(min=0.0, max=1.0,
                                               doc="lr x 0.1 at these fractions of training; [] = MSCL's cosine")
    dclr_wrap: bool = _f(doc="dynamic view frame 0 = V[0] - V[T-1] as released; false = zeros")
    dclr_topk: int = _f(min=0, doc="queue neighbours counted as extra positives (released: 5); 0 = single positive")
    dclr_backbone: str = _f(choices=BACKBONES, doc="DCLR's encoder, kept for downstream use (released: r2plus1d_10)")
    dclr_clip_len: int = _f(min=2, doc="DCLR: frames per clip (released: 16)")
    dclr_stride: int = _f(min=1, doc="DCLR: stored frames between a clip's frames, the dynamic view's "
                                     "frame gap (released: 2)")
    # optimisation (docs/mscl.md §5)
    batch_size: int = _f(min=1, doc="global batch over all GPUs")
    epochs: int = _f(min=1)
    lr: float = _f(min=0.0, doc="for the global batch_size given (0.02 per 128 in the paper)")
    momentum: float = _f(min=0.0, max=1.0)
    weight_decay: float = _f(min=0.0)
    grad_clip: float = _f(min=0.0, doc="0 disables clipping")
    warmup_epochs: float = _f(min=0.0)
    warmup_ratio: float = _f(min=0.0, max=1.0)
    min_lr: float = _f(min=0.0)
    momentum_base: float = _f(min=0.0, max=1.0, doc="key-encoder EMA momentum at step 0 (cosine to 1)")
    # speed and distribution
    bf16: bool = _f(doc="bf16 autocast on CUDA (the CPU runs float32)")
    channels_last: bool = _f(doc="channels_last_3d memory format (faster on CUDA and on CPU)")
    compile: bool = _f(doc="torch.compile the encoders")
    sync_bn: bool = _f(doc="BatchNorm over the global batch; false = literal per-GPU BN + shuffle-BN for keys")
    bn_splits: int = _f(min=1, doc="BatchNorm groups per process: statistics over interleaved sub-batches, as on that "
                                   "many GPUs (one process: shuffle-BN takes effect only when > 1)")
    gpus: int = _f(min=1, doc="processes (GPUs) per node, launched through torchrun when > 1")
    nnodes: int = _f(min=1)
    node_rank: int = _f(min=0)
    master_addr: str = _f()
    master_port: int = _f(min=1, max=65535)
    checkpoint_every: int = _f(min=1, doc="steps between checkpoints", output=False)
    log_every: int = _f(min=1, doc="steps between dvclive logs", output=False)
    knn_every: int = _f(min=0, doc="steps between kNN checks of the RGB encoder on the labelled splits; 0 = off",
                        output=False)
    knn_k: int = _f(min=1, doc="neighbours of the kNN monitor", output=False)
    knn_videos: int = _f(min=1, output=False,
                         doc="at most this many videos per split in the kNN monitor (decoded once, kept in memory)")

    @property
    def method_backbone(self) -> str:
        """The backbone the method trains (``dclr_backbone`` with DCLR, else ``backbone``)."""
        return self.dclr_backbone if self.method == "dclr" else self.backbone

    @property
    def frames_per_clip(self) -> int:
        """Frames of one training clip of the method (``dclr_clip_len`` with DCLR, else ``clip_len``)."""
        return self.dclr_clip_len if self.method == "dclr" else self.clip_len

    @property
    def needs_flow(self) -> bool:
        """Whether the method reads optical flow (and MDS screening, which scores flow): only MSCL.
        The flow and screen stages compute nothing when it does not."""
        return self.method in FLOW_METHODS

    def __post_init__(self):
        """Rules across fields, so that a bad combination stops before any data is read."""
        if self.queue_size < self.batch_size:
            raise ParamsError(f"params.yaml: pretrain.queue_size ({self.queue_size}) must hold at least one batch "
                              f"(pretrain.batch_size = {self.batch_size})")
        if self.batch_size % (self.gpus * self.nnodes):
            raise ParamsError(f"params.yaml: pretrain.batch_size ({self.batch_size}) must divide evenly over "
                              f"{self.gpus * self.nnodes} processes (pretrain.gpus x pretrain.nnodes)")
        if self.bn_splits > 1 and (self.sync_bn or (self.batch_size // (self.gpus * self.nnodes)) % self.bn_splits):
            raise ParamsError(f"params.yaml: pretrain.bn_splits ({self.bn_splits}) needs pretrain.sync_bn: false and must "
                              f"divide each process's batch ({self.batch_size // (self.gpus * self.nnodes)})")
        if self.method == "mscl" and self.lmcl and self.width != self.flow_width:
            raise ParamsError(f"params.yaml: LMCL compares RGB and flow features channel by channel: pretrain.width "
                              f"({self.width}) must equal pretrain.flow_width ({self.flow_width}), or set pretrain.lmcl: false")
        if self.method == "dclr" and self.dclr_topk >= self.queue_size:
            raise ParamsError(f"params.yaml: pretrain.dclr_topk ({self.dclr_topk}) must be below pretrain.queue_size "
                              f"({self.queue_size}): the positives are mined from the queue")
        if self.checkpoint_every % self.log_every:
            raise ParamsError(f"params.yaml: pretrain.checkpoint_every ({self.checkpoint_every}) must be a multiple of "
                              f"pretrain.log_every ({self.log_every}), so that a resumed run logs the same windows")


@dataclass(frozen=True)
class EvaluationParams:
    """What the three evaluation stages (finetune, linear, retrieve) run on and start from, set once."""

    datasets: tuple[str, ...] = _f(doc="the named datasets every evaluation stage runs on, one stage each")
    split: str = _f(choices=("val", "test"), doc="the split scored (train always fits): val while tuning, "
                                                 "test once for the reported numbers")
    init: str = _f(choices=("pretrained", "random"),
                   doc="pretrained: the pretrain stage's encoder; random: a seeded fresh one (the untrained lower baseline)")


@dataclass(frozen=True)
class ClipEvalParams:
    """The fields every evaluation section has: how clips of a labelled video are cut and run."""

    device: str = _f(choices=DEVICES)
    seed: int = _f(min=0)
    num_frames: int = _f(min=1, doc="frames per clip (fine-tuning: TSN segments, one frame each)")
    crop_size: int = _f(min=8, doc="resize short side to this, then crop it (fine-tuning: the training "
                                          "random-resized-crop output)")
    batch_size: int = _f(min=1, doc="clips per forward pass (fine-tuning: training clips per step)")
    workers: int = _f(min=0, doc="data loader processes")
    bf16: bool = _f(doc="bf16 autocast on CUDA (the CPU runs float32)")


@dataclass(frozen=True)
class FinetuneParams(ClipEvalParams):
    """End-to-end fine-tuning of the pretrained R3D-18 (docs/mscl.md §6.1, §8.9). The paper's values: presets/paper.yaml."""

    crop_scale: tuple[float, ...] = _f(min=0.01, max=1.0, doc="training crop area range")
    test_crop_size: int = _f(min=8, doc="evaluation: resize short side to this, then crop it")
    test_clips: int = _f(min=1, doc="multi-view evaluation: clips per video")
    test_crops: int = _f(choices=(1, 3), doc="multi-view evaluation: 1 centre or 3 crops along the long side")
    epochs: int = _f(min=1)
    lr: float = _f(min=0.0, doc="for the batch_size given")
    momentum: float = _f(min=0.0, max=1.0)
    weight_decay: float = _f(min=0.0)
    milestones: tuple[int, ...] = _f(min=1, doc="epochs where lr is multiplied by 0.1")
    dropout: float = _f(min=0.0, max=1.0)
    grad_clip: float = _f(min=0.0, doc="0 disables clipping")


@dataclass(frozen=True)
class LinearParams(ClipEvalParams):
    """Linear probe: a linear classifier on frozen, cached clip features (docs/mscl.md §6.2 views)."""

    clips: int = _f(min=1, doc="uniformly spaced clips per video; every clip is a training sample")
    crops: int = _f(choices=(1, 3))
    probe_batch: int = _f(min=1, doc="cached features per classifier step")
    epochs: int = _f(min=1)
    lr: float = _f(min=0.0)
    momentum: float = _f(min=0.0, max=1.0)
    weight_decay: float = _f(min=0.0)
    milestones: tuple[int, ...] = _f(min=1, doc="epochs where lr is multiplied by 0.1")


@dataclass(frozen=True)
class RetrieveParams(ClipEvalParams):
    """Nearest-neighbour video retrieval with frozen features (docs/mscl.md §6.2, §8.10)."""

    clips: int = _f(min=1, doc="uniformly spaced clips averaged into one video feature")
    crops: int = _f(choices=(1, 3))
    queries: int = _f(min=0, doc="test queries drawn in the neighbours picture")
    shown: int = _f(min=1, doc="train neighbours drawn per query")


SECTIONS: dict[str, type] = {
    "cluster": ClusterParams,
    "datasets": DatasetParams,  # {name: DatasetParams}
    "frames": FramesParams,
    "flow": FlowParams,
    "screen": ScreenParams,
    "pretrain": PretrainParams,
    "evaluation": EvaluationParams,
    "finetune": FinetuneParams,
    "linear": LinearParams,
    "retrieve": RetrieveParams,
}


# --------------------------------------------------------------------------- loading


def _type_ok(value, tp) -> bool:
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        (item,) = set(typing.get_args(tp)) - {Ellipsis}
        return isinstance(value, (list, tuple)) and all(_type_ok(v, item) for v in value)
    return isinstance(value, tp)


def _check(section: str, f: dataclasses.Field, tp, value) -> object:
    where = f"params.yaml: {section}.{f.name}"
    if not _type_ok(value, tp):
        expected = getattr(tp, "__name__", str(tp))
        raise ParamsError(f"{where} = {value!r} has type {type(value).__name__}, expected {expected}")
    m = f.metadata
    items = value if isinstance(value, (list, tuple)) else [value]
    for v in items:
        if m.get("choices") is not None and v not in m["choices"]:
            raise ParamsError(f"{where} = {v!r} is not one of {list(m['choices'])}")
        if m.get("min") is not None and v < m["min"]:
            raise ParamsError(f"{where} = {v!r} is below the minimum {m['min']}")
        if m.get("max") is not None and v > m["max"]:
            raise ParamsError(f"{where} = {v!r} is above the maximum {m['max']}")
    if tp is float:
        return float(value)
    if typing.get_origin(tp) is tuple:
        return tuple(value)
    return value


def from_dict(cls: type, raw: dict | None, section: str):
    """Build section dataclass ``cls`` from a raw mapping, validating every key (``datasets``:
    {name: :class:`DatasetParams`}, :func:`datasets_from_dict`).

    Raises:
        ParamsError: unknown key (with the closest valid one), wrong type, value out of range.
    """
    if cls is DatasetParams:
        return datasets_from_dict(raw)
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ParamsError(f"params.yaml: section {section!r} must be a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParamsError(f"params.yaml: unknown key {section}.{key}{hint} (valid: {', '.join(fields)})")
    missing = [name for name in fields if name not in raw]
    if missing:
        raise ParamsError(f"params.yaml: section {section!r} lacks {', '.join(missing)} (the repository's params.yaml "
                          "lists every key with its demo value)")
    values = {k: _check(section, fields[k], hints[k], v) for k, v in raw.items()}
    return cls(**values)


def datasets_from_dict(raw: dict | None) -> dict[str, DatasetParams]:
    """The ``datasets`` section: ``{name: DatasetParams}``, each entry listing ``source`` and
    exactly the keys that source reads."""
    if not isinstance(raw, dict) or not raw:
        raise ParamsError("params.yaml: section 'datasets' must map dataset names to their settings, e.g. "
                          "datasets: {ucf101: {source: ucf101, root: ..., splits: [1], val_fraction: 0.1}}")
    return {name: _dataset(name, entry) for name, entry in raw.items()}


def _dataset(name, raw) -> DatasetParams:
    where = f"datasets.{name}"
    if not isinstance(name, str) or not DATASET_NAME.fullmatch(name):
        raise ParamsError(f"params.yaml: dataset name {name!r} may hold only letters, digits, '_' and '-' (it names "
                          "folders and DVC stages)")
    if not isinstance(raw, dict) or "source" not in raw:
        raise ParamsError(f"params.yaml: {where} needs a source (one of {', '.join(SOURCE_KEYS)}) and that "
                          "source's keys")
    fields = {f.name: f for f in dataclasses.fields(DatasetParams)}
    hints = typing.get_type_hints(DatasetParams)
    source = _check(where, fields["source"], str, raw["source"])
    reads = SOURCE_KEYS[source]
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), reads, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParamsError(f"params.yaml: unknown key {where}.{key}{hint} (source {source} reads "
                              f"{', '.join(reads)})")
        if key != "source" and key not in reads:
            raise ParamsError(f"params.yaml: {where}.{key} is not read by source {source} (it reads "
                              f"{', '.join(reads)})")
    missing = [k for k in reads if k not in raw]
    if missing:
        raise ParamsError(f"params.yaml: {where} lacks {', '.join(missing)} (source {source} reads {', '.join(reads)})")
    given = {k: _check(where, fields[k], _not_none(hints[k]), v) for k, v in raw.items()}
    p = DatasetParams(**{k: given.get(k) for k in fields})
    if (p.test_fraction or 0.0) + (p.val_fraction or 0.0) >= 1.0:
        raise ParamsError(f"params.yaml: {where}: test_fraction ({p.test_fraction}) + val_fraction ({p.val_fraction}) "
                          "leave no train videos")
    if p.splits is not None and (not p.splits or len(set(p.splits)) < len(p.splits)):
        raise ParamsError(f"params.yaml: {where}.splits = {list(p.splits)} must name official splits (1-3), each once")
    return p


def _not_none(tp):
    """``X`` of the type hint ``X | None``."""
    return next(a for a in typing.get_args(tp) if a is not type(None)) if type(None) in typing.get_args(tp) else tp


def check_roles(sections: dict) -> None:
    """Rules across sections, so a bad combination stops every stage before any work: the roles
    name datasets that exist (with the closest name of a typo), the kNN monitor and
    ``evaluation.split: val`` read a val split that exists, MSCL's flow covers the train split.

    Raises:
        ParamsError: one line naming the value.
    """
    datasets, pretrain, evaluation = sections.get("datasets"), sections.get("pretrain"), sections.get("evaluation")
    if datasets is None:
        if pretrain or evaluation:
            raise ParamsError("params.yaml: section 'datasets' is missing (pretrain.data and evaluation.datasets name "
                              "its datasets)")
        return

    def known(key: str, name: str) -> DatasetParams:
        if name not in datasets:
            close = difflib.get_close_matches(str(name), list(datasets), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParamsError(f"params.yaml: {key} = {name!r} names no dataset{hint} (datasets: {', '.join(datasets)})")
        return datasets[name]

    def has_val(name: str) -> bool:  # a folder source may hold a val/ folder: its index says
        return datasets[name].source == "folder" or bool(datasets[name].val_fraction)

    if evaluation is not None:
        if not evaluation.datasets or len(set(evaluation.datasets)) < len(evaluation.datasets):
            raise ParamsError(f"params.yaml: evaluation.datasets = {list(evaluation.datasets)} must name one or more "
                              "datasets, each once")
        for name in evaluation.datasets:
            known("evaluation.datasets", name)
            if evaluation.split == "val" and not has_val(name):
                raise ParamsError(f"params.yaml: evaluation.split = 'val', but datasets.{name}.val_fraction is 0: "
                                  f"{name} has no val split")
    if pretrain is None:
        return
    data = known("pretrain.data", pretrain.data)
    if data.splits is not None and len(data.splits) > 1:
        raise ParamsError(f"params.yaml: datasets.{pretrain.data}.splits = {list(data.splits)}: the pretraining set "
                          "(pretrain.data) reads the train videos of one official split")
    if evaluation is not None and pretrain.monitor not in evaluation.datasets:
        raise ParamsError(f"params.yaml: pretrain.monitor = {pretrain.monitor!r} is not an evaluation set "
                          f"(evaluation.datasets: {', '.join(evaluation.datasets)})")
    if pretrain.knn_every and pretrain.monitor in datasets and not has_val(pretrain.monitor):
        raise ParamsError(f"params.yaml: pretrain.monitor = {pretrain.monitor!r}, whose val_fraction is 0: the kNN "
                          "monitor reads its val split (or set pretrain.knn_every: 0)")
    flow = sections.get("flow")
    if flow is not None and pretrain.needs_flow and "train" not in flow.splits:
        raise ParamsError(f"params.yaml: flow.splits = {list(flow.splits)} lacks train: pretrain.method "
                          f"{pretrain.method} reads the flow of the train split")


def load_all(path: str | Path) -> dict:
    """Every known section of the YAML file at ``path``, validated: {name: section dataclass}.

    A top-level key that looks like a misspelt section name (``pretrian``) is an error too;
    other top-level keys are left to their owners.
    """
    with open(path) as fh:
        doc = yaml.safe_load(fh) or {}
    if not isinstance(doc, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(doc).__name__}")
    for key in doc:
        close = difflib.get_close_matches(str(key), list(SECTIONS), n=1, cutoff=0.75)
        if key not in SECTIONS and close:
            raise ParamsError(f"{path}: unknown section {key!r}; did you mean {close[0]!r}?")
    sections = {name: from_dict(cls, doc[name], name) for name, cls in SECTIONS.items() if name in doc}
    check_roles(sections)
    return sections


def load_section(path: str | Path, name: str):
    """Load and validate section ``name`` of the YAML file at ``path``, after validating every
    other section present and the rules across them (a typo in ``finetune`` stops ``pretrain``
    before it starts). ``datasets`` loads as ``{name: DatasetParams}``."""
    if name not in SECTIONS:
        raise ParamsError(f"no params section named {name!r}; known: {', '.join(SECTIONS)}")
    sections = load_all(path)
    if name not in sections:
        raise ParamsError(f"{path}: section {name!r} is missing")
    return sections[name]


def stage_params(path: str | Path, *names: str):
    """The section (or tuple of sections) a stage reads, for its ``main``: a user's error in any
    section of the file ends the process with that one line (exit status 1), not a traceback."""
    try:
        sections = tuple(load_section(path, name) for name in names)
        return sections[0] if len(sections) == 1 else sections
    except (ParamsError, OSError, yaml.YAMLError) as e:
        raise SystemExit(f"error: {e}") from None


DEFAULTS = Path(__file__).resolve().parents[1] / "params.yaml"  # the repository's: the CPU demo


def default(cls: type, **overrides):
    """Section ``cls`` with the repository's ``params.yaml`` values and ``overrides``, validated."""
    name = next(n for n, c in SECTIONS.items() if c is cls)
    doc = yaml.safe_load(DEFAULTS.read_text())
    return from_dict(cls, {**doc[name], **overrides}, name)


def to_dict(p) -> dict:
    """Plain dict of a section (for JSON sidecars and manifests)."""
    return dataclasses.asdict(p)


def output_values(p) -> dict:
    """``{name: value}`` of the fields of section ``p`` that change what its stage writes (declared
    with the field, ``output``): what a resumable stage's fingerprint covers."""
    return {f.name: getattr(p, f.name) for f in dataclasses.fields(p) if f.metadata.get("output", True)}
