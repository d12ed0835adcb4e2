import torch
from torchvision.models.video import r3d_18

from mscl.models.r3d import R3D18, load_torchvision_weights


def test_width64_state_dict_matches_torchvision_without_fc():
    ours = R3D18(width=64).state_dict()
    theirs = {k: v for k, v in r3d_18(weights=None).state_dict().items() if not k.startswith("fc.")}
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in ours)


def test_same_weights_give_same_outputs_as_torchvision():
    torch.manual_seed(0)
    tv = r3d_18(weights=None).eval()
    ours = R3D18(width=64).eval()
    load_torchvision_weights(ours, tv.state_dict())
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        pooled, stages = ours(x)
        y = tv.stem(x)
        for layer, stage in zip((tv.layer1, tv.layer2, tv.layer3, tv.layer4), stages):
            y = layer(y)
            torch.testing.assert_close(stage, y)
        torch.testing.assert_close(pooled, tv.avgpool(y).flatten(1))


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


def test_every_stage_width_scales():
    model = R3D18(width=16)
    assert model.stage_channels == (16, 32, 64, 128)
    assert model.stem[0].weight.shape == (16, 3, 3, 7, 7)
    assert model.layer4[1].conv2[0].weight.shape == (128, 128, 3, 3, 3)
    assert model.layer2[0].downsample[0].weight.shape == (32, 16, 1, 1, 1)
