import pytest
import torch

from mscl.models.flow_encoder import FlowEncoder


def test_shapes_quarter_width_and_halved_time():
    torch.manual_seed(0)
    model = FlowEncoder(width=16)
    assert model.stage_channels == (4, 8, 16, 32) and model.out_dim == 32
    pooled, stages = model(torch.rand(2, 3, 8, 32, 32))
    assert [tuple(s.shape) for s in stages] == [
        (2, 4, 4, 16, 16), (2, 8, 4, 8, 8), (2, 16, 4, 4, 4), (2, 32, 4, 2, 2)
    ]
    assert pooled.shape == (2, 32)
    torch.testing.assert_close(pooled, stages[-1].mean(dim=(2, 3, 4)))


def test_paper_width_channels():
    model = FlowEncoder(width=64)
    assert model.stage_channels == (16, 32, 64, 128)
    assert model.stem[0].weight.shape == (16, 3, 1, 7, 7)
    assert model.stem[0].stride == (2, 2, 2) and model.stem[0].padding == (0, 3, 3)


def test_frames_never_mix_and_stem_keeps_even_frames():
    # every kernel is 1 in time and the stem strides 2: layer4 step j sees only input frame 2j
    torch.manual_seed(0)
    model = FlowEncoder(width=16).eval()  # eval: BatchNorm must not mix samples either
    x = torch.rand(1, 3, 8, 32, 32)
    with torch.no_grad():
        ref = model(x)[1][-1]
        for frame in range(8):
            y = x.clone()
            y[:, :, frame] = torch.rand(3, 32, 32)
            changed = (model(y)[1][-1] - ref).abs().amax(dim=(0, 1, 3, 4)) > 0  # (4,)
            expected = [frame % 2 == 0 and j == frame // 2 for j in range(4)]
            assert changed.tolist() == expected


def test_width_must_be_multiple_of_four():
    with pytest.raises(ValueError, match="multiple of 4"):
        FlowEncoder(width=10)
