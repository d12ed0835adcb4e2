import pytest
import torch
from torchvision.models.video import r2plus1d_18, r3d_18
from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D, R2Plus1dStem, VideoResNet

from mscl.models.r3d import BACKBONES, R2Plus1D10, R2Plus1D18, R3D18, build_backbone, load_torchvision_weights


def r2plus1d_10(weights=None):
    """torchvision's R(2+1)D with one block per stage: what DCLR's release builds as r2plus1d_18."""
    return VideoResNet(BasicBlock, [Conv2Plus1D] * 4, [1, 1, 1, 1], R2Plus1dStem)


TORCHVISION = {"r3d_18": r3d_18, "r2plus1d_18": r2plus1d_18, "r2plus1d_10": r2plus1d_10}


@pytest.mark.parametrize("name", BACKBONES)
def test_width64_state_dict_matches_torchvision_without_fc(name):
    ours = build_backbone(name, 64).state_dict()
    theirs = {k: v for k, v in TORCHVISION[name](weights=None).state_dict().items() if not k.startswith("fc.")}
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in ours)


@pytest.mark.parametrize("name", BACKBONES)
def test_same_weights_give_same_outputs_as_torchvision(name):
    torch.manual_seed(0)
    tv = TORCHVISION[name](weights=None).eval()
    for m in tv.modules():  # non-trivial BN statistics, so every BN's place matters
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ours = build_backbone(name, 64).eval()
    load_torchvision_weights(ours, tv.state_dict())
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        pooled, stages = ours(x)
        y = tv.stem(x)
        for layer, stage in zip((tv.layer1, tv.layer2, tv.layer3, tv.layer4), stages):
            y = layer(y)
            torch.testing.assert_close(stage, y, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(pooled, tv.avgpool(y).flatten(1), rtol=1e-5, atol=1e-5)


def test_small_width_shapes_and_pooled_feature():
    torch.manual_seed(0)
    model = R3D18(width=8).eval()
    x = torch.randn(2, 3, 8, 32, 32)
    pooled, stages = model(x)
    assert [tuple(s.shape) for s in stages] == [
        (2, 8, 8, 16, 16), (2, 16, 4, 8, 8), (2, 32, 2, 4, 4), (2, 64, 1, 2, 2)
    ]
    assert pooled.shape == (2, 64) and model.out_dim == 64
    torch.testing.assert_close(pooled, stages[-1].mean(dim=(2, 3, 4)))
    torch.testing.assert_close(model.pooled_feature(x), pooled)


def test_r2plus1d_small_width_has_the_shapes_of_r3d():
    torch.manual_seed(0)
    r3d, r2plus1d = R3D18(width=8).eval(), R2Plus1D18(width=8).eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        (p3, s3), (p21, s21) = r3d(x), r2plus1d(x)
    assert [s.shape for s in s21] == [s.shape for s in s3] and p21.shape == p3.shape == (2, 64)
    assert r2plus1d.out_dim == r3d.out_dim and r2plus1d.stage_channels == r3d.stage_channels
    torch.testing.assert_close(r2plus1d.pooled_feature(x), p21)


def test_every_stage_width_scales():
    model = R3D18(width=16)
    assert model.stage_channels == (16, 32, 64, 128)
    assert model.stem[0].weight.shape == (16, 3, 3, 7, 7)
    assert model.layer4[1].conv2[0].weight.shape == (128, 128, 3, 3, 3)
    assert model.layer2[0].downsample[0].weight.shape == (32, 16, 1, 1, 1)


def test_r2plus1d_widths_follow_torchvision_formulas():
    model = R2Plus1D18(width=16)
    assert model.stem[0].weight.shape == (11, 3, 1, 7, 7)  # 45 * 16 // 64
    assert model.stem[3].weight.shape == (16, 11, 3, 1, 1)
    # layer2's first block: one middle width from (16, 32) for both convs, 16*32*27 // (16*9 + 3*32)
    assert model.layer2[0].conv1[0][0].weight.shape == (57, 16, 1, 3, 3)
    assert model.layer2[0].conv2[0][0].weight.shape == (57, 32, 1, 3, 3)
    assert model.layer2[0].conv2[0][3].weight.shape == (32, 57, 3, 1, 1)
    assert model.layer2[1].conv1[0][0].weight.shape == (72, 32, 1, 3, 3)  # 32*32*27 // (32*9 + 3*32)
    assert model.layer2[0].conv1[0][0].stride == (1, 2, 2) and model.layer2[0].conv1[0][3].stride == (2, 1, 1)
    assert model.layer2[0].downsample[0].weight.shape == (32, 16, 1, 1, 1)


def test_r2plus1d_10_is_r2plus1d_18_with_one_block_per_stage():
    deep, shallow = R2Plus1D18(width=8), R2Plus1D10(width=8)
    assert [len(s) for s in (shallow.layer1, shallow.layer2, shallow.layer3, shallow.layer4)] == [1, 1, 1, 1]
    convs = [m for m in shallow.modules() if isinstance(m, torch.nn.Conv3d) and m.kernel_size != (1, 1, 1)]
    assert len(convs) == 2 + 8 * 2  # the factorised stem and 4 blocks x 2 convs, each a spatial and a temporal conv
    # every weight of the shallow network is the deep one's first block of each stage
    assert set(shallow.state_dict()) < set(deep.state_dict())
    assert not any(k.startswith(f"layer{i}.1.") for k in shallow.state_dict() for i in range(1, 5))


def test_unknown_backbone_names_the_known_ones():
    assert isinstance(build_backbone("r2plus1d_18", 4), R2Plus1D18)
    assert isinstance(build_backbone("r2plus1d_10", 4), R2Plus1D10)
    with pytest.raises(ValueError, match="unknown backbone 'r50'; known: r3d_18, r2plus1d_18, r2plus1d_10"):
        build_backbone("r50", 4)
