import math

import pytest
import torch

from mscl.downstream.metrics import (
    classification_metrics,
    confusion_matrix,
    topk_accuracy,
    video_labels,
    video_scores,
)


def test_topk_accuracy_hand_computed():
    scores = torch.tensor([
        [0.1, 0.5, 0.2, 0.9],  # order 3, 1, 2, 0
        [0.8, 0.1, 0.3, 0.0],  # order 0, 2, 1, 3
        [0.2, 0.3, 0.1, 0.4],  # order 3, 1, 0, 2
    ])
    labels = torch.tensor([3, 2, 2])
    acc = topk_accuracy(scores, labels, ks=(1, 2, 3, 4))
    assert acc == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3), 3: pytest.approx(2 / 3), 4: 1.0}


def test_topk_larger_than_the_class_count_counts_every_row():
    scores = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert topk_accuracy(scores, torch.tensor([0, 1]), ks=(1, 5)) == {1: 0.0, 5: 1.0}


def test_video_scores_average_the_clip_softmax():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0], [0.0, 2.0]])
    video = torch.tensor([1, 1, 0])
    got = video_scores(logits, video, 2)
    # video 1: softmax (1/2, 1/2) and (3/4, 1/4) -> (5/8, 3/8); video 0: its one clip
    expected = torch.tensor([[1 / (1 + math.e**2), math.e**2 / (1 + math.e**2)], [5 / 8, 3 / 8]])
    torch.testing.assert_close(got, expected)


def test_averaging_softmax_differs_from_averaging_logits():
    video = torch.zeros(3, dtype=torch.long)
    logits = torch.tensor([[9.0, 0.0], [0.0, 3.0], [0.0, 3.0]])
    assert logits.mean(0).argmax().item() == 0  # mean logits 3 vs 2
    assert video_scores(logits, video, 1).argmax().item() == 1  # mean probs 0.36 vs 0.64


def test_a_video_without_clips_is_an_error():
    with pytest.raises(ValueError, match="1 of 3 videos have no clip"):
        video_scores(torch.zeros(2, 4), torch.tensor([0, 2]), 3)


def test_video_labels_and_inconsistent_labels():
    assert video_labels(torch.tensor([2, 2, 0]), torch.tensor([1, 1, 0]), 2).tolist() == [0, 2]
    with pytest.raises(ValueError):
        video_labels(torch.tensor([2, 1]), torch.tensor([0, 0]), 1)


def test_confusion_matrix_rows_are_true_classes():
    pred = torch.tensor([0, 1, 1, 2, 2, 2])
    labels = torch.tensor([0, 0, 1, 2, 2, 1])
    expected = torch.tensor([[1, 1, 0], [0, 1, 1], [0, 0, 2]])
    assert torch.equal(confusion_matrix(pred, labels, 3), expected)


def test_classification_metrics_clip_and_video_level():
    # two videos of two clips; video 0 (label 0) has one wrong clip but wins on average
    logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 2.0]])
    labels = torch.tensor([0, 0, 1, 1])
    video = torch.tensor([0, 0, 1, 1])
    m = classification_metrics(logits, labels, video, 2)
    assert m["clip_top1"] == pytest.approx(1 / 4)
    assert m["video_top1"] == pytest.approx(1 / 2)
    assert m["clip_top5"] == 1.0 and m["video_top5"] == 1.0
