import numpy as np
import pytest
import torch

from mscl.downstream.features import ViewOutputs, load_encoder
from mscl.downstream.finetune import Classifier, finetune, linear_probe, step_lr, train_linear, view_metrics
from mscl.params import FinetuneParams, LinearParams, default

KEYS = {"clip_top1", "clip_top5", "video_top1", "video_top5"}


def test_step_lr_decays_tenfold_at_each_milestone():
    lr = step_lr(0.1, (2, 3), epochs=4, iters_per_epoch=2)
    np.testing.assert_allclose(lr, [0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    np.testing.assert_allclose(step_lr(0.5, (), epochs=2, iters_per_epoch=1), [0.5, 0.5])


def test_classifier_shapes(encoder_file):
    encoder, _ = load_encoder(encoder_file, init="random")
    model = Classifier(encoder, 5, dropout=0.5).eval()
    assert model(torch.randn(2, 3, 4, 16, 16)).shape == (2, 5)
    assert model.head.in_features == 32 and not model.head.bias.any()


def test_view_metrics_are_percent_at_clip_and_video_level():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 3.0]]])  # (N=2, V=2, C=2)
    m = view_metrics(ViewOutputs(logits, torch.tensor([0, 1])))
    assert m == {"clip_top1": 75.0, "clip_top5": 100.0, "video_top1": 100.0, "video_top5": 100.0}


def test_linear_classifier_fits_a_separable_toy_set():
    g = torch.Generator().manual_seed(0)
    centres = 4 * torch.eye(3, 8)
    y = torch.arange(60) % 3
    x = centres[y] + 0.5 * torch.randn(60, 8, generator=g)
    head = train_linear(x, y, 3, default(LinearParams, epochs=30, probe_batch=16, lr=0.1, milestones=(20,)))
    assert (head(x).argmax(dim=1) == y).all()
    x_new = centres[y] + 0.5 * torch.randn(60, 8, generator=g)
    assert (head(x_new).argmax(dim=1) == y).float().mean() > 0.95


def test_linear_probe_separates_bright_from_dark_videos(encoder_file, video_table):
    encoder, _ = load_encoder(encoder_file, init="random")
    train, test = video_table([0, 3] * 4, "train"), video_table([0, 3, 3, 0], "test")
    p = default(LinearParams, device="cpu", num_frames=4, crop_size=16, clips=2, crops=1, batch_size=8, workers=0,
                     epochs=20, probe_batch=8, milestones=(15,))
    m = linear_probe(p, encoder, train, test, num_classes=4)
    assert KEYS <= set(m) and m["video_top1"] == 100.0
    assert m["train_videos"] == 8 and m["test_videos"] == 4 and m["videos_per_second"] > 0


def test_finetune_runs_and_reports_every_view_and_level(encoder_file, video_table):
    encoder, _ = load_encoder(encoder_file, init="pretrained")
    before = encoder.stem[0].weight.detach().clone()
    train, test = video_table([0, 1, 2, 0], "train"), video_table([1, 2, 0], "test")
    p = default(FinetuneParams, device="cpu", num_frames=4, crop_size=16, test_crop_size=16, test_clips=2, test_crops=3,
                       batch_size=2, epochs=2, lr=0.01, milestones=(1,), workers=0)
    logged = []
    result = finetune(p, encoder, train, test, num_classes=3, log=lambda values, epoch: logged.append((epoch, values)))
    m = result.metrics
    assert set(m["single_view"]) == KEYS and set(m["multi_view"]) == KEYS
    assert m["views"] == {"clips": 2, "crops": 3} and m["test_videos"] == 3
    assert all(0 <= v <= 100 for v in m["multi_view"].values())
    assert result.confusion.shape == (3, 3) and result.confusion.sum() == 3
    assert [e for e, _ in logged] == [0, 1]
    assert logged[0][1]["train/lr"] == pytest.approx(0.01) and logged[1][1]["train/lr"] == pytest.approx(0.001)
    assert np.isfinite(logged[1][1]["train/loss"])
    assert not torch.equal(result.model.encoder.stem[0].weight.detach(), before)  # end-to-end: the encoder trains
