"""Pyramid neck on R3D stages: FPN followed by SEPC (docs/mscl.md §1; the release's TPN neck).

It turns [layer2, layer3, layer4] into maps with one channel count, of which only the finest
level (T/2 x H/8 x W/8) feeds the local motion contrast (LMCL, docs/mscl.md §3.3); the global embedding
comes from the backbone, not from here.

Initialisation: every conv is Xavier-uniform with zero bias. The released SEPC blocks draw
N(0, 0.01) in their own constructor, but the enclosing TPN's init then re-initialises every Conv3d
it contains (SEPC included) with Xavier, so Xavier is what was trained.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn


def top_down_merge(laterals: Sequence[Tensor]) -> list[Tensor]:
    """FPN top-down path: add each coarser map, nearest-upsampled, to the next finer one.

    Args:
        laterals: maps (B, C, T_l, H_l, W_l), finest first.
    Returns:
        merged maps, same shapes; level l includes every coarser level.
    """
    merged = list(laterals)
    for level in range(len(merged) - 1, 0, -1):
        finer = merged[level - 1]
        merged[level - 1] = finer + F.interpolate(merged[level], size=finer.shape[2:], mode="nearest")
    return merged


class PConv3D(nn.Module):
    """One SEPC pyramid convolution: each level mixes itself with its two neighbours.

    out_l = ReLU(mid(x_l) + down(x_{l-1}) + upsample(up(x_{l+1}))), where ``down`` has stride 2 and
    missing neighbours are skipped; all three convs are 3x3x3 with bias.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv_up = nn.Conv3d(channels, channels, 3, padding=1)
        self.conv_mid = nn.Conv3d(channels, channels, 3, padding=1)
        self.conv_down = nn.Conv3d(channels, channels, 3, stride=2, padding=1)

    def forward(self, xs: Sequence[Tensor], levels: int | None = None) -> list[Tensor]:
        """Args: xs, maps finest first. Returns: the first ``levels`` output levels (default all);
        level l only needs inputs l-1, l, l+1, so coarse outputs can be skipped."""
        n = len(xs) if levels is None else levels
        out = []
        for level in range(n):
            y = self.conv_mid(xs[level])
            if level > 0:
                y = y + self.conv_down(xs[level - 1])
            if level < len(xs) - 1:
                up = self.conv_up(xs[level + 1])
                y = y + F.interpolate(up, size=y.shape[2:], mode="trilinear")
            out.append(F.relu(y))
        return out


class FeaturePyramid(nn.Module):
    """FPN (1x1x1 laterals, top-down nearest upsample + add, (1,3,3) output convs, no norm or
    activation) followed by ``num_pconv`` SEPC blocks.

    Args:
        in_channels: channels of the input stages, finest first (e.g. 128, 256, 512 at width 64).
        out_channels: channels of every output level (128 in the paper; 2 * width).
        num_pconv: number of SEPC blocks (2 in the paper).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int, *, num_pconv: int = 2):
        super().__init__()
        c = out_channels
        self.lateral_convs = nn.ModuleList(nn.Conv3d(c_in, c, 1) for c_in in in_channels)
        self.fpn_convs = nn.ModuleList(
            nn.Conv3d(c, c, (1, 3, 3), padding=(0, 1, 1)) for _ in in_channels
        )
        self.pconvs = nn.ModuleList(PConv3D(c) for _ in range(num_pconv))
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, stages: Sequence[Tensor], levels: int | None = None) -> list[Tensor]:
        """Args:
            stages: backbone maps finest first, e.g. [layer2, layer3, layer4] with shapes
                (B,128,4,28,28), (B,256,2,14,14), (B,512,1,7,7) at width 64, 8x112x112 clips.
            levels: how many output levels to return, finest first (default all). LMCL needs
                only 1; coarser SEPC outputs that do not feed it are then not computed.
        Returns:
            ``levels`` maps (B, out_channels, T_l, H_l, W_l) with the input resolutions.
        """
        n_in = len(stages)
        n = n_in if levels is None else levels
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, stages)]
        merged = top_down_merge(laterals)
        # levels each block must output so that the last block can produce the first n
        needed = [min(n_in, n + len(self.pconvs) - 1 - j) for j in range(len(self.pconvs))]
        xs = [conv(x) for conv, x in zip(self.fpn_convs, merged)]
        for pconv, n_out in zip(self.pconvs, needed):
            xs = pconv(xs, n_out)
        return xs[:n]
