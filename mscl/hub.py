"""Using the results: the pretrained encoder in one line, its export, and a video's top-5.

    from mscl.hub import load_encoder
    encoder = load_encoder("models/pretrain/encoder.pt")   # a torch.nn.Module, eval mode
    features = encoder(clips)   # (B, 3, T, H, W) normalised clips -> (B, 8 * width)

Clips are float RGB in [0, 1], normalised with the ImageNet mean and std
(:func:`mscl.transforms.color.normalize`), any T and H = W (112 in the paper, the demo's
``crop_size`` otherwise). :func:`to_torchvision` puts width-64 weights into torchvision's
``r3d_18`` or ``r2plus1d_18``, or its ``VideoResNet`` of one block per stage for ``r2plus1d_10``,
whichever the encoder is; ``python -m mscl.hub export`` writes a
file that torch alone loads (``torch.export`` or TorchScript); ``python -m mscl.hub predict
VIDEO...`` prints the top-5 of the classifier fine-tuned on an evaluation set (``--dataset``,
default the first of ``evaluation.datasets``) for video files.
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch
import yaml
from torch import Tensor, nn

from mscl.data.labeled import clip_offsets, eval_views, segment_indices
from mscl.downstream.features import load_encoder as load_backbone
from mscl.downstream.finetune import Classifier
from mscl.io.checkpoint import load_module_state
from mscl.io.video import VideoError, decode_video
from mscl.models.r3d import BACKBONES, VideoResNet, build_backbone


class Encoder(nn.Module):
    """A pretrained backbone as a feature extractor: (B, 3, T, H, W) -> (B, 8 * width)."""

    def __init__(self, backbone: VideoResNet):
        super().__init__()
        self.backbone = backbone
        self.out_dim = backbone.out_dim

    def forward(self, clips: Tensor) -> Tensor:
        return self.backbone.pooled_feature(clips)


def load_encoder(path: str | Path = "models/pretrain/encoder.pt", *, device: str | torch.device = "cpu") -> Encoder:
    """The encoder that ``pretrain`` wrote (``encoder.pt`` and its ``.json``), in eval mode."""
    backbone, _ = load_backbone(path, init="pretrained")
    return Encoder(backbone).to(device).eval()


def to_torchvision(path: str | Path = "models/pretrain/encoder.pt") -> nn.Module:
    """torchvision's ``r3d_18`` or ``r2plus1d_18`` (as the sidecar names; for ``r2plus1d_10``
    torchvision's ``VideoResNet`` of the R(2+1)D blocks with one per stage) with the pretrained
    weights and ``fc`` = identity (width 64 only, the paper's; narrower demo encoders have no
    torchvision counterpart)."""
    from torchvision.models.video import r2plus1d_18, r3d_18
    from torchvision.models.video import resnet

    state, sidecar = load_module_state(path)
    name = sidecar.get("backbone")
    if name == "r3d_18":
        build = r3d_18
    elif name == "r2plus1d_18":
        build = r2plus1d_18
    elif name == "r2plus1d_10":
        def build(weights=None):
            return resnet.VideoResNet(resnet.BasicBlock, [resnet.Conv2Plus1D] * 4, [1, 1, 1, 1], resnet.R2Plus1dStem)
    else:
        raise ValueError(f"{path}: backbone {name!r}, expected one of {', '.join(BACKBONES)}")
    if int(sidecar["width"]) != 64:
        raise ValueError(f"{path}: width {sidecar['width']}; torchvision's {name} is width 64")
    model = build(weights=None)
    model.fc = nn.Identity()
    model.load_state_dict(state, strict=True)
    return model.eval()


def export_encoder(path: str | Path, out: str | Path, *, num_frames: int = 8, crop_size: int = 112,
                   fmt: str = "export") -> Path:
    """Write the encoder as a file that torch alone loads, for clips of ``num_frames`` frames of
    ``crop_size`` pixels and any batch size.

    ``fmt="export"``: a ``torch.export`` program (``torch.export.load(out).module()(clips)``), the
    format current torch recommends; ``"torchscript"``: a traced TorchScript module
    (``torch.jit.load(out)(clips)``), for runtimes that still expect it (deprecated by torch).
    """
    encoder = load_encoder(path)
    example = torch.zeros(2, 3, num_frames, crop_size, crop_size)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    if fmt == "export":
        batch = torch.export.Dim("batch", min=1)
        torch.export.save(torch.export.export(encoder, (example,), dynamic_shapes={"clips": {0: batch}}), str(out))
    elif fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch deprecates TorchScript; asked for explicitly
            torch.jit.trace(encoder, example).save(str(out))
    else:
        raise ValueError(f"format must be 'export' or 'torchscript', got {fmt!r}")
    return Path(out)


def classifier_path(dataset: str) -> Path:
    """Where the ``finetune`` stage of evaluation set ``dataset`` writes its classifier."""
    return Path("models") / dataset / "finetune" / "classifier.pt"


def load_classifier(path: str | Path) -> tuple[Classifier, dict]:
    """The fine-tuned classifier that ``finetune`` wrote, in eval mode, and its sidecar."""
    state, sidecar = load_module_state(path)
    backbone = build_backbone(sidecar["backbone"], int(sidecar["width"]))
    model = Classifier(backbone, len(sidecar["classes"]), dropout=0.0)
    model.load_state_dict(state)
    return model.eval(), sidecar


@torch.no_grad()
def classify_video(video: str | Path, model: Classifier, sidecar: dict, *, top: int = 5) -> list[tuple[str, float]]:
    """The ``top`` classes of one video file with their probabilities (softmax averaged over the
    fine-tuning evaluation's views: ``test_clips`` x ``test_crops`` of ``num_frames`` frames)."""
    p = sidecar["params"]
    frames = decode_video(video, short_side=int(p["test_crop_size"])).frames  # (L, H, W, 3)
    T, K = int(p["num_frames"]), int(p["test_clips"])
    idx = segment_indices(len(frames), T, clip_offsets(K)).reshape(-1)  # (K * T,)
    clips = frames[idx.numpy()].reshape(K, T, *frames.shape[1:])  # (K, T, H, W, 3) uint8
    views = eval_views(clips, crop_size=int(p["test_crop_size"]), crops=int(p["test_crops"]))
    probs = model(views).softmax(dim=1).mean(dim=0)
    best = probs.topk(min(top, len(probs)))
    return [(sidecar["classes"][i], float(v)) for v, i in zip(best.values, best.indices)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m mscl.hub", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("predict", help="print the fine-tuned classifier's top-5 for video files")
    pr.add_argument("videos", nargs="+")
    pr.add_argument("--dataset", help="the evaluation set whose classifier predicts (default: the first of "
                                      "params.yaml's evaluation.datasets)")
    pr.add_argument("--classifier", help="a classifier file instead (default: models/<dataset>/finetune/classifier.pt)")
    pr.add_argument("--top", type=int, default=5)
    ex = sub.add_parser("export", help="write the pretrained encoder as a file torch alone loads")
    ex.add_argument("out", help="e.g. encoder.pt2")
    ex.add_argument("--format", choices=("export", "torchscript"), default="export")
    ex.add_argument("--encoder", default="models/pretrain/encoder.pt")
    ex.add_argument("--num-frames", type=int, default=8)
    ex.add_argument("--crop-size", type=int, default=112)
    args = ap.parse_args(argv)
    if args.command == "export":
        out = export_encoder(args.encoder, args.out, num_frames=args.num_frames, crop_size=args.crop_size, fmt=args.format)
        load = f"torch.export.load('{out}').module()" if args.format == "export" else f"torch.jit.load('{out}')"
        print(f"encoder written to {out}: {load}(clips) -> features")
        return
    if args.classifier is None:
        dataset = args.dataset or yaml.safe_load(Path("params.yaml").read_text())["evaluation"]["datasets"][0]
        args.classifier = classifier_path(dataset)
    model, sidecar = load_classifier(args.classifier)
    failed = 0
    for video in args.videos:
        try:
            ranked = classify_video(video, model, sidecar, top=args.top)
        except VideoError as e:
            print(f"{video}: cannot classify: {e.status}: {e.reason}")
            failed += 1
            continue
        print(f"{video}: " + ", ".join(f"{name} {100 * prob:.1f}%" for name, prob in ranked))
    if failed:
        raise SystemExit(f"{failed} of {len(args.videos)} videos could not be read")


if __name__ == "__main__":
    main()
