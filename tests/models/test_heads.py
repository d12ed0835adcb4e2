import torch
from torch import nn

from mscl.models.heads import ProjectionHead, embed


def test_projection_head_layout():
    head = ProjectionHead(32, 8)
    assert [type(m) for m in head] == [nn.Linear, nn.ReLU, nn.Linear]
    assert head[0].weight.shape == (32, 32) and head[2].weight.shape == (8, 32)
    assert head(torch.randn(5, 32)).shape == (5, 8)


def test_embed_is_unit_norm_projection():
    torch.manual_seed(0)
    head = ProjectionHead(16, 4)
    x = torch.randn(3, 16)
    z = embed(head, x)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(3))
    raw = head(x)
    torch.testing.assert_close(z, raw / raw.norm(dim=1, keepdim=True))
