import subprocess
import sys

import pytest
import torch

from mscl.downstream.finetune import Classifier
from mscl.hub import classify_video, export_encoder, load_classifier, load_encoder, to_torchvision
from mscl.io.checkpoint import save_module
from mscl.models.r3d import BACKBONES, build_backbone

from helpers import REPO, moving_video


def _encoder(tmp_path, width, name="r3d_18"):
    torch.manual_seed(0)
    backbone = build_backbone(name, width)
    for m in backbone.modules():  # non-trivial BN statistics, so eval mode matters
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    save_module(tmp_path / "encoder.pt", backbone, {"backbone": name, "width": width, "method": "mscl"})
    return backbone.eval()


def test_one_line_load_gives_features_of_the_saved_weights(tmp_path):
    backbone = _encoder(tmp_path, 4)
    encoder = load_encoder(tmp_path / "encoder.pt")
    assert isinstance(encoder, torch.nn.Module) and not encoder.training and encoder.out_dim == 32
    clips = torch.rand(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(encoder(clips), backbone.pooled_feature(clips))
        assert encoder(clips).shape == (2, 32)


@pytest.mark.parametrize("name", BACKBONES)
def test_width_64_weights_load_into_the_torchvision_model_of_the_same_name(tmp_path, name):
    backbone = _encoder(tmp_path, 64, name)
    tv = to_torchvision(tmp_path / "encoder.pt")
    assert type(tv.stem).__name__ == ("BasicStem" if name == "r3d_18" else "R2Plus1dStem")
    assert len(tv.layer4) == (1 if name == "r2plus1d_10" else 2)
    clips = torch.rand(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(tv(clips), backbone.pooled_feature(clips), rtol=1e-5, atol=1e-5)
    _encoder(tmp_path, 4, name)
    with pytest.raises(ValueError, match=f"width 4; torchvision's {name} is width 64"):
        to_torchvision(tmp_path / "encoder.pt")


def test_unknown_backbone_is_refused(tmp_path):
    save_module(tmp_path / "encoder.pt", build_backbone("r3d_18", 4), {"backbone": "r50", "width": 4, "method": "mscl"})
    for load in (to_torchvision, load_encoder):
        with pytest.raises(ValueError, match="encoder.pt: backbone 'r50', expected one of r3d_18, r2plus1d_18"):
            load(tmp_path / "encoder.pt")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["export", "torchscript"])
def test_exported_encoder_needs_torch_alone_and_gives_the_same_features(tmp_path, fmt):
    _encoder(tmp_path, 4)
    out = export_encoder(tmp_path / "encoder.pt", tmp_path / "out/encoder.bin", num_frames=4, crop_size=32, fmt=fmt)
    code = ("import sys; sys.modules['mscl'] = None; import torch; x = torch.load(sys.argv[2]); "
            "m = torch.export.load(sys.argv[1]).module() if sys.argv[3] == 'export' else torch.jit.load(sys.argv[1]); "
            "torch.save(m(x).detach(), sys.argv[2])")
    clips = torch.rand(3, 3, 4, 32, 32)  # another batch size than the example's
    torch.save(clips, tmp_path / "x.pt")
    # an interpreter where importing this project fails
    subprocess.run([sys.executable, "-c", code, str(out), str(tmp_path / "x.pt"), fmt], check=True, cwd=tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(torch.load(tmp_path / "x.pt"), load_encoder(tmp_path / "encoder.pt")(clips))


def _classifier(tmp_path, favourite: int, backbone: str = "r3d_18"):
    model = Classifier(build_backbone(backbone, 4), 3, dropout=0.0)
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([0.0, 0.0, 0.0]))
        model.head.bias[favourite] = 20.0  # a classifier that is sure of one class whatever the video
    params = {"num_frames": 4, "test_clips": 2, "test_crops": 3, "test_crop_size": 32}
    save_module(tmp_path / "classifier.pt", model, {"backbone": backbone, "width": 4, "classes": ["a", "b", "c"],
                                                   "params": params})
    return model.eval()


@pytest.mark.slow
def test_predict_prints_the_top_classes_of_a_video_file(tmp_path):
    _classifier(tmp_path, favourite=2)
    video = moving_video(tmp_path / "clip.mp4", frames=12)
    model, sidecar = load_classifier(tmp_path / "classifier.pt")
    ranked = classify_video(video, model, sidecar, top=5)
    assert [name for name, _ in ranked][0] == "c" and len(ranked) == 3 and ranked[0][1] > 0.999
    assert sum(p for _, p in ranked) == pytest.approx(1.0, abs=1e-5)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    done = subprocess.run([sys.executable, "-m", "mscl.hub", "predict", str(video), str(tmp_path / "broken.mp4"),
                           "--classifier", str(tmp_path / "classifier.pt")], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 1 and "1 of 2 videos could not be read" in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{video}: c 100.0%") and lines[1].startswith(f"{tmp_path / 'broken.mp4'}: cannot classify")


def test_classifier_is_rebuilt_with_its_sidecar_backbone(tmp_path):
    saved = _classifier(tmp_path, favourite=1, backbone="r2plus1d_18")
    model, sidecar = load_classifier(tmp_path / "classifier.pt")
    assert type(model.encoder) is type(saved.encoder) and sidecar["backbone"] == "r2plus1d_18"
    clips = torch.rand(2, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(clips), saved(clips))
