"""The video ResNet backbones that pretraining trains and every downstream stage fine-tunes.

The backbones share one layout (a stem, then four stages of residual blocks with width, 2w, 4w,
8w channels) and differ in their convolutions and depth:

- R3D-18 (``r3d_18``): full (3, 3, 3) convolutions and a (3, 7, 7) stem, two blocks per stage;
- R(2+1)D-18 (``r2plus1d_18``): every (3, 3, 3) convolution factorised into a (1, 3, 3) spatial
  conv, BN, ReLU and a (3, 1, 1) temporal conv, and a factorised stem, two blocks per stage;
- R(2+1)D-10 (``r2plus1d_10``): R(2+1)D-18 with one block per stage (stem, 8 convs, and the
  classifier a downstream stage adds: 10 layers). DCLR's released code builds this network
  under the name ``r2plus1d_18`` (docs/dclr.md).

Layouts and parameter names follow torchvision's ``VideoResNet`` with ``BasicBlock`` and
``Conv3DSimple``/``Conv2Plus1D``, so at ``width=64`` our ``state_dict`` loads into the
torchvision model of the same layout (minus its ``fc``) and back. ``width`` scales every stage
for a small CPU demo. The residual block is shared with the flow encoder, which uses it with a
temporal kernel of 1.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

Triple = tuple[int, int, int]

BACKBONES = ("r3d_18", "r2plus1d_18", "r2plus1d_10")


def conv3d(c_in: int, c_out: int, *, kernel: Triple, stride: Triple, mid: int | None = None) -> nn.Module:
    """Conv3d (no bias) padded to keep size at stride 1.

    With ``mid``, factorised (2+1)D as torchvision's ``Conv2Plus1D``: a (1, kh, kw) conv to ``mid``
    channels, BN, ReLU, then a (kt, 1, 1) conv to ``c_out``; the strides split the same way.
    """
    if mid is None:
        padding = tuple(k // 2 for k in kernel)
        return nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
    (kt, kh, kw), (st, sh, sw) = kernel, stride
    return nn.Sequential(
        conv3d(c_in, mid, kernel=(1, kh, kw), stride=(1, sh, sw)),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        conv3d(mid, c_out, kernel=(kt, 1, 1), stride=(st, 1, 1)),
    )


def conv_bn(c_in: int, c_out: int, *, kernel: Triple, stride: Triple, relu: bool,
            mid: int | None = None) -> nn.Sequential:
    """:func:`conv3d` (factorised when ``mid`` is given) + BatchNorm3d (+ ReLU)."""
    layers: list[nn.Module] = [conv3d(c_in, c_out, kernel=kernel, stride=stride, mid=mid), nn.BatchNorm3d(c_out)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def midplanes(c_in: int, c_out: int, kernel: Triple) -> int:
    """Channels between the halves of a factorised ``kernel`` conv, chosen so that it has about
    the parameters of the full conv (R(2+1)D paper, sec. 3.5): t*d*d*N_in*N_out / (d*d*N_in + t*N_out)."""
    kt, kh, kw = kernel
    return (kt * kh * kw * c_in * c_out) // (kh * kw * c_in + kt * c_out)


class BasicBlock(nn.Module):
    """Two (kt, 3, 3) conv-BN pairs with an identity or 1x1x1-projection shortcut.

    ``factorised`` makes both convs (2+1)D with one middle width computed from (c_in, c_out),
    for the second conv too, as torchvision does.
    """

    def __init__(self, c_in: int, c_out: int, *, stride: Triple = (1, 1, 1), kt: int = 3, factorised: bool = False):
        super().__init__()
        kernel = (kt, 3, 3)
        mid = midplanes(c_in, c_out, kernel) if factorised else None
        self.conv1 = conv_bn(c_in, c_out, kernel=kernel, stride=stride, relu=True, mid=mid)
        self.conv2 = conv_bn(c_out, c_out, kernel=kernel, stride=(1, 1, 1), relu=False, mid=mid)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != (1, 1, 1) or c_in != c_out:
            self.downsample = conv_bn(c_in, c_out, kernel=(1, 1, 1), stride=stride, relu=False)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + shortcut)


def make_stage(c_in: int, c_out: int, *, stride: Triple, kt: int, blocks: int = 2,
               factorised: bool = False) -> nn.Sequential:
    """One ResNet stage: the first block changes stride/width, the rest keep them."""
    first = BasicBlock(c_in, c_out, stride=stride, kt=kt, factorised=factorised)
    rest = [BasicBlock(c_out, c_out, kt=kt, factorised=factorised) for _ in range(blocks - 1)]
    return nn.Sequential(first, *rest)


def init_resnet_(module: nn.Module) -> None:
    """torchvision's VideoResNet initialisation: Kaiming-normal (fan_out) convs, BN = identity."""
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def global_pool(x: Tensor) -> Tensor:
    """(B, C, T, H, W) -> (B, C) average over time and space."""
    return x.mean(dim=(2, 3, 4))


class VideoResNet(nn.Module):
    """A stem, then four stages of ``blocks`` basic blocks (width, 2w, 4w, 8w channels), no classifier.

    Every backbone gives the same shapes; at width 64 for a (B, 3, 8, 112, 112) clip: layer1
    (B,64,8,56,56), layer2 (B,128,4,28,28), layer3 (B,256,2,14,14), layer4 (B,512,1,7,7), pooled (B,512).
    """

    def __init__(self, stem: nn.Module, *, width: int, factorised: bool, blocks: int = 2):
        super().__init__()
        w = width
        self.out_dim = 8 * w
        self.stage_channels = (w, 2 * w, 4 * w, 8 * w)
        self.stem = stem
        kw = {"kt": 3, "factorised": factorised, "blocks": blocks}
        self.layer1 = make_stage(w, w, stride=(1, 1, 1), **kw)
        self.layer2 = make_stage(w, 2 * w, stride=(2, 2, 2), **kw)
        self.layer3 = make_stage(2 * w, 4 * w, stride=(2, 2, 2), **kw)
        self.layer4 = make_stage(4 * w, 8 * w, stride=(2, 2, 2), **kw)
        init_resnet_(self)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Args: x (B, 3, T, H, W). Returns: pooled (B, 8w) and [layer1, layer2, layer3, layer4]."""
        x = self.stem(x)
        stages = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            stages.append(x)
        return global_pool(x), stages

    def pooled_feature(self, x: Tensor) -> Tensor:
        """(B, 3, T, H, W) -> (B, 8w): the clip embedding used downstream."""
        return self(x)[0]


class R3D18(VideoResNet):
    """Randomly initialised R3D-18 without the classifier.

    Args:
        width: stem width; stages have width, 2w, 4w, 8w channels (64 = torchvision's r3d_18).
    """

    def __init__(self, *, width: int = 64):
        stem = conv_bn(3, width, kernel=(3, 7, 7), stride=(1, 2, 2), relu=True)
        super().__init__(stem, width=width, factorised=False)


def r2plus1d_stem(width: int) -> nn.Sequential:
    """torchvision's factorised stem: a (1, 7, 7) conv to 45w/64 channels, then a (3, 1, 1) conv
    to w, each with BN + ReLU."""
    mid = 45 * width // 64  # torchvision's 45 at width 64, not the sec. 3.5 formula
    return nn.Sequential(
        *conv_bn(3, mid, kernel=(1, 7, 7), stride=(1, 2, 2), relu=True),
        *conv_bn(mid, width, kernel=(3, 1, 1), stride=(1, 1, 1), relu=True),
    )


class R2Plus1D18(VideoResNet):
    """Randomly initialised R(2+1)D-18 without the classifier.

    Args:
        width: stages have width, 2w, 4w, 8w channels (64 = torchvision's r2plus1d_18).
    """

    def __init__(self, *, width: int = 64):
        super().__init__(r2plus1d_stem(width), width=width, factorised=True)


class R2Plus1D10(VideoResNet):
    """Randomly initialised R(2+1)D-10 without the classifier: R(2+1)D-18 with one block per
    stage, the network DCLR's release trains (its ``view_resnet.r2plus1d_18``, ``layers=[1,1,1,1]``).

    Args:
        width: stages have width, 2w, 4w, 8w channels (64 as released).
    """

    def __init__(self, *, width: int = 64):
        super().__init__(r2plus1d_stem(width), width=width, factorised=True, blocks=1)


def build_backbone(name: str, width: int) -> VideoResNet:
    """A randomly initialised backbone named as in :data:`BACKBONES`."""
    if name == "r3d_18":
        return R3D18(width=width)
    elif name == "r2plus1d_18":
        return R2Plus1D18(width=width)
    elif name == "r2plus1d_10":
        return R2Plus1D10(width=width)
    raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")


def load_torchvision_weights(model: VideoResNet, torchvision_state: dict[str, torch.Tensor]) -> None:
    """Load a torchvision ``r3d_18`` or ``r2plus1d_18`` state_dict into the width-64 backbone of
    the same name (drops ``fc``)."""
    state = {k: v for k, v in torchvision_state.items() if not k.startswith("fc.")}
    model.load_state_dict(state, strict=True)
