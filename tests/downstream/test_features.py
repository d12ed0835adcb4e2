import pytest
import torch

from mscl.data.labeled import LabeledClips
from mscl.downstream.features import extract_features, load_encoder, make_loader, video_retrieval
from mscl.io.checkpoint import load_module_state, save_module
from mscl.models.r3d import BACKBONES, R3D18, build_backbone
from mscl.params import RetrieveParams, default

CPU = torch.device("cpu")


def test_pretrained_init_loads_the_saved_weights(encoder_file):
    encoder, sidecar = load_encoder(encoder_file, init="pretrained")
    state, _ = load_module_state(encoder_file)
    assert sidecar["width"] == 4 and encoder.out_dim == 32
    assert all(torch.equal(v, state[k]) for k, v in encoder.state_dict().items())


def test_random_init_keeps_the_architecture_and_is_seeded(encoder_file):
    state, _ = load_module_state(encoder_file)
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a, _ = load_encoder(encoder_file, init="random", seed=1)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's RNG stream is untouched
    b, _ = load_encoder(encoder_file, init="random", seed=1)
    c, _ = load_encoder(encoder_file, init="random", seed=2)
    w = "stem.0.weight"
    assert a.state_dict()[w].shape == state[w].shape
    assert torch.equal(a.state_dict()[w], b.state_dict()[w])
    assert not torch.equal(a.state_dict()[w], c.state_dict()[w])
    assert not torch.equal(a.state_dict()[w], state[w])


@pytest.mark.parametrize("backbone", BACKBONES)
def test_the_sidecar_backbone_is_rebuilt_and_loads_every_weight(tmp_path, backbone):
    torch.manual_seed(0)
    saved = build_backbone(backbone, 8)
    save_module(tmp_path / "encoder.pt", saved, {"backbone": backbone, "width": 8, "method": "mscl", "params": {}})
    encoder, sidecar = load_encoder(tmp_path / "encoder.pt", init="pretrained")
    assert type(encoder) is type(saved) and sidecar["backbone"] == backbone and encoder.out_dim == 64
    state, expected = encoder.state_dict(), saved.state_dict()
    assert list(state) == list(expected)  # no missing or unexpected keys
    assert all(torch.equal(v, expected[k]) for k, v in state.items())
    random, _ = load_encoder(tmp_path / "encoder.pt", init="random")
    assert type(random) is type(saved)


def test_wrong_backbone_or_init_is_refused(tmp_path, encoder_file):
    save_module(tmp_path / "other.pt", R3D18(width=4), {"backbone": "r50", "width": 4})
    with pytest.raises(ValueError, match=r"other.pt: backbone 'r50', expected one of r3d_18, r2plus1d_18"):
        load_encoder(tmp_path / "other.pt", init="pretrained")
    save_module(tmp_path / "mislabelled.pt", R3D18(width=4), {"backbone": "r2plus1d_18", "width": 4})
    with pytest.raises(RuntimeError, match="Missing key"):
        load_encoder(tmp_path / "mislabelled.pt", init="pretrained")
    with pytest.raises(ValueError, match="init must be"):
        load_encoder(encoder_file, init="imagenet")


def test_loader_batches_whole_videos_of_about_batch_size_clips(video_table):
    ds = LabeledClips(video_table([0, 1, 0]), num_frames=4, train=False, crop_size=16, clips=2, crops=3)
    assert make_loader(ds, batch_size=13, workers=0, device=CPU).batch_size == 2
    assert make_loader(ds, batch_size=4, workers=0, device=CPU).batch_size == 1


def test_features_follow_the_table_order_and_match_a_direct_forward(encoder_file, video_table):
    encoder, _ = load_encoder(encoder_file, init="pretrained")
    ds = LabeledClips(video_table([2, 0, 1]), num_frames=4, train=False, crop_size=16, clips=2, crops=1)
    out = extract_features(encoder, ds, batch_size=4, workers=0, device=CPU, bf16=False)
    assert out.values.shape == (3, 2, 32) and out.labels.tolist() == [2, 0, 1]
    with torch.no_grad():
        direct = encoder.eval().pooled_feature(ds[1].views)  # (2, 32)
    torch.testing.assert_close(out.values[1], direct, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.video, out.values.mean(dim=1))
    # bf16 is for CUDA only: on the CPU the features are the float32 ones
    same = extract_features(encoder, ds, batch_size=4, workers=0, device=CPU, bf16=True)
    torch.testing.assert_close(same.values, out.values)


def test_retrieving_a_set_from_itself_finds_every_video_first(encoder_file, video_table):
    table = video_table([0, 1, 2, 0, 1, 2])
    encoder, _ = load_encoder(encoder_file, init="random")
    p = default(RetrieveParams, device="cpu", num_frames=4, crop_size=16, clips=2, crops=1, batch_size=4, workers=0, shown=3)
    result = video_retrieval(p, encoder, table, table)
    assert result.neighbours.shape == (6, 3)
    assert result.neighbours[:, 0].tolist() == list(range(6))
    assert result.metrics["R@1"] == 100.0 and result.metrics["R@50"] == 100.0
    assert result.metrics["queries"] == 6 and result.metrics["feature_dim"] == 32
