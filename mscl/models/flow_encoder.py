"""Flow encoder: a frame-wise ("2D") ResNet-18 on colour-coded flow clips (docs/mscl.md §1).

Every conv has a temporal kernel of 1, so frames never mix inside the network; only the stem
subsamples time (stride 2). Channels are a quarter of R3D's: width/4, width/2, width, 2*width
(16/32/64/128 at width 64). No max-pool after the stem, as in the released flow branch.
"""
from __future__ import annotations

from torch import Tensor, nn

from mscl.models.r3d import conv_bn, global_pool, init_resnet_, make_stage


class FlowEncoder(nn.Module):
    """Randomly initialised frame-wise ResNet-18 for (B, 3, T, H, W) colour-coded flow.

    Args:
        width: base width; stages have width/4, width/2, width, 2*width channels (must be a
            multiple of 4). At width 64 and a (B, 3, 8, 112, 112) input: stem (B,16,4,56,56),
            layer4 (B,128,4,7,7), pooled (B,128).
    """

    def __init__(self, *, width: int = 64):
        super().__init__()
        if width % 4:
            raise ValueError(f"flow encoder width must be a multiple of 4, got {width}")
        c = width // 4
        self.out_dim = 8 * c
        self.stage_channels = (c, 2 * c, 4 * c, 8 * c)
        # (1,7,7) kernel with stride 2 in time: halves T so layer4 has T/2 steps, like RGB layer2
        self.stem = conv_bn(3, c, kernel=(1, 7, 7), stride=(2, 2, 2), relu=True)
        self.layer1 = make_stage(c, c, stride=(1, 1, 1), kt=1)
        self.layer2 = make_stage(c, 2 * c, stride=(1, 2, 2), kt=1)
        self.layer3 = make_stage(2 * c, 4 * c, stride=(1, 2, 2), kt=1)
        self.layer4 = make_stage(4 * c, 8 * c, stride=(1, 2, 2), kt=1)
        init_resnet_(self)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Args: x (B, 3, T, H, W) in [0, 1]. Returns: pooled (B, 2*width) and the four stage
        maps [layer1, ..., layer4]; layer4 is (B, 2*width, T/2, H/16, W/16)."""
        x = self.stem(x)
        stages = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            stages.append(x)
        return global_pool(x), stages
