"""R3D-18: the 3D ResNet-18 that MSCL pretrains and every downstream stage fine-tunes.

The layout and parameter names follow torchvision's ``r3d_18`` (``VideoResNet`` with ``BasicBlock``,
``Conv3DSimple`` and ``BasicStem``), so at ``width=64`` our ``state_dict`` loads into
``torchvision.models.video.r3d_18`` (minus its ``fc``) and back. ``width`` scales every stage
(width, 2w, 4w, 8w) for a small CPU demo. The residual block is shared with the flow encoder,
which uses the same block with a temporal kernel of 1.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

Triple = tuple[int, int, int]


def conv_bn(c_in: int, c_out: int, *, kernel: Triple, stride: Triple, relu: bool) -> nn.Sequential:
    """Conv3d (no bias) + BatchNorm3d (+ ReLU), padded to keep size at stride 1."""
    padding = tuple(k // 2 for k in kernel)
    layers: list[nn.Module] = [
        nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm3d(c_out),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two (kt, 3, 3) conv-BN pairs with an identity or 1x1x1-projection shortcut."""

    def __init__(self, c_in: int, c_out: int, *, stride: Triple = (1, 1, 1), kt: int = 3):
        super().__init__()
        kernel = (kt, 3, 3)
        self.conv1 = conv_bn(c_in, c_out, kernel=kernel, stride=stride, relu=True)
        self.conv2 = conv_bn(c_out, c_out, kernel=kernel, stride=(1, 1, 1), relu=False)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != (1, 1, 1) or c_in != c_out:
            self.downsample = conv_bn(c_in, c_out, kernel=(1, 1, 1), stride=stride, relu=False)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + shortcut)


def make_stage(c_in: int, c_out: int, *, stride: Triple, kt: int, blocks: int = 2) -> nn.Sequential:
    """One ResNet stage: the first block changes stride/width, the rest keep them."""
    first = BasicBlock(c_in, c_out, stride=stride, kt=kt)
    rest = [BasicBlock(c_out, c_out, kt=kt) for _ in range(blocks - 1)]
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


class R3D18(nn.Module):
    """Randomly initialised R3D-18 without the classifier.

    Args:
        width: stem width; stages have width, 2w, 4w, 8w channels (64 = torchvision's r3d_18).
    Shapes at width 64 for a (B, 3, 8, 112, 112) clip: layer1 (B,64,8,56,56),
    layer2 (B,128,4,28,28), layer3 (B,256,2,14,14), layer4 (B,512,1,7,7), pooled (B,512).
    """

    def __init__(self, *, width: int = 64):
        super().__init__()
        w = width
        self.out_dim = 8 * w
        self.stage_channels = (w, 2 * w, 4 * w, 8 * w)
        self.stem = conv_bn(3, w, kernel=(3, 7, 7), stride=(1, 2, 2), relu=True)
        self.layer1 = make_stage(w, w, stride=(1, 1, 1), kt=3)
        self.layer2 = make_stage(w, 2 * w, stride=(2, 2, 2), kt=3)
        self.layer3 = make_stage(2 * w, 4 * w, stride=(2, 2, 2), kt=3)
        self.layer4 = make_stage(4 * w, 8 * w, stride=(2, 2, 2), kt=3)
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


def load_torchvision_weights(model: R3D18, torchvision_state: dict[str, torch.Tensor]) -> None:
    """Load a torchvision ``r3d_18`` state_dict into a width-64 :class:`R3D18` (drops ``fc``)."""
    state = {k: v for k, v in torchvision_state.items() if not k.startswith("fc.")}
    model.load_state_dict(state, strict=True)
