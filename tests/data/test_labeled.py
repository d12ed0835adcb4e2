import numpy as np
import pandas as pd
import pytest
import torch

from mscl.data.labeled import (
    LabeledClips,
    class_names,
    clip_offsets,
    eval_boxes,
    eval_views,
    labeled_videos,
    segment_indices,
    split_tables,
    to_clip,
)
from mscl.io.frames import write_frames
from mscl.transforms.color import IMAGENET_MEAN, IMAGENET_STD, normalize
from mscl.transforms.spatial import resized_crop


def _grey_video(path, num_frames, height=24, width=32):
    """Frame t is uniformly grey with level 10 + 8 t, so a decoded view tells which frame it shows."""
    assert num_frames <= 30, "grey levels must stay under 256"
    levels = 10 + 8 * np.arange(num_frames, dtype=np.uint8)
    frames = np.broadcast_to(levels[:, None, None, None], (num_frames, height, width, 3)).copy()
    write_frames(path, frames, quality=95, meta={})
    return path


def _frame_of(view):
    """Frame index shown by a normalised grey view (3, T, S, S) -> (T,) long."""
    red = view[0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]  # (T, S, S) back in [0, 1]
    return ((red.mean(dim=(1, 2)) * 255 - 10) / 8).round().long()


def _table(tmp_path, lengths):
    rows = [{"frames": str(_grey_video(tmp_path / f"v{i}.zip", n)), "num_frames": n, "label": i}
            for i, n in enumerate(lengths)]
    return pd.DataFrame(rows)


def test_segment_indices_are_tsn_segments():
    # 48 frames in 8 segments of 6: start, centre and end of each segment
    assert segment_indices(48, 8, torch.zeros(8)).tolist() == list(range(0, 48, 6))
    assert segment_indices(48, 8, torch.full((8,), 0.5)).tolist() == list(range(3, 48, 6))
    assert segment_indices(48, 8, torch.full((8,), 0.999)).tolist() == list(range(5, 48, 6))
    # a video shorter than the clip repeats frames
    assert segment_indices(4, 8, torch.full((8,), 0.5)).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_several_clips_have_evenly_spaced_starts_and_a_fixed_stride():
    assert clip_offsets(2)[:, 0].tolist() == [0.25, 0.75]
    idx = segment_indices(48, 8, clip_offsets(2))
    assert idx[0].tolist() == [1, 7, 13, 19, 25, 31, 37, 43]
    assert idx[1].tolist() == [4, 10, 16, 22, 28, 34, 40, 46]
    assert segment_indices(48, 8, clip_offsets(1))[0].tolist() == list(range(3, 48, 6))


def test_three_crops_slide_along_the_long_side():
    cols = np.broadcast_to(np.arange(12, dtype=np.uint8)[:, None], (1, 2, 8, 12, 3)).copy()  # pixel value = column index
    views = eval_views(cols, crop_size=8, crops=3)
    assert views.shape == (3, 3, 2, 8, 8)
    first_col = (views[:, 0, 0, 0, :] * IMAGENET_STD[0] + IMAGENET_MEAN[0]) * 255
    torch.testing.assert_close(first_col[:, 0], torch.tensor([0.0, 2.0, 4.0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(first_col[:, -1], torch.tensor([7.0, 9.0, 11.0]), atol=1e-4, rtol=0)
    centre = eval_views(cols, crop_size=8, crops=1)
    torch.testing.assert_close(centre, views[1:2])


@pytest.mark.parametrize("crops", [1, 3])
def test_eval_views_resize_the_crop_boxes_of_the_stored_frames(crops):
    # two clips of 3 random frames 20 x 30: short side to 12, then crops of 12 x 12, as the
    # bilinear reference resized_crop of the converted clips makes them, to a grey level
    frames = np.random.default_rng(0).integers(0, 256, (2, 3, 20, 30, 3), dtype=np.uint8)
    views = eval_views(frames, crop_size=12, crops=crops)
    boxes = eval_boxes(20, 30, crops)
    assert boxes[:, 2:].tolist() == [[20, 20]] * crops and boxes[:, 1].tolist() == ([5] if crops == 1 else [0, 5, 10])
    clips = torch.stack([to_clip(c) for c in frames])  # (2, 3, T, 20, 30)
    expected = resized_crop(clips[:, None].expand(2, crops, *clips.shape[1:]), boxes.expand(2, crops, 4), 12)
    expected = normalize(expected.reshape(2 * crops, 3, 3, 12, 12))
    assert views.shape == expected.shape and views.dtype == torch.float32
    torch.testing.assert_close(views, expected, atol=1.01 / 255 / min(IMAGENET_STD), rtol=0)


def test_eval_items_hold_every_view_of_the_expected_frames(tmp_path):
    ds = LabeledClips(_table(tmp_path, [24, 5]), num_frames=4, train=False, crop_size=16, clips=2, crops=3)
    item = ds[0]
    assert item.views.shape == (6, 3, 4, 16, 16) and item.views.dtype == torch.float32
    assert (item.label, item.index) == (0, 0)
    for v in range(6):  # clip-major: views 0-2 are the crops of clip 0
        expected = segment_indices(24, 4, clip_offsets(2))[v // 3]
        assert _frame_of(item.views[v]).tolist() == expected.tolist()
    short = ds[1]  # 5 frames, 4 segments
    assert _frame_of(short.views[0]).tolist() == segment_indices(5, 4, clip_offsets(2))[0].tolist()


def test_train_items_draw_one_frame_per_segment_and_repeat_per_epoch(tmp_path):
    ds = LabeledClips(_table(tmp_path, [24]), num_frames=8, train=True, crop_size=16, seed=3)
    first = ds[0]
    assert first.views.shape == (1, 3, 8, 16, 16)
    frames = _frame_of(first.views[0])
    assert ((frames >= torch.arange(8) * 3) & (frames < torch.arange(1, 9) * 3)).all()
    torch.testing.assert_close(ds[0].views, first.views)  # same epoch, same draw
    draws = []
    for epoch in range(1, 5):
        ds.set_epoch(epoch)
        draws.append(_frame_of(ds[0].views[0]))
    assert any(not torch.equal(d, frames) for d in draws)


def test_labeled_videos_keeps_usable_videos_of_the_split(tmp_path):
    videos = pd.DataFrame({
        "video_id": ["a", "b", "c", "d"], "path": [""] * 4, "label": [0, 1, 1, 0],
        "label_name": ["left", "right", "right", "left"], "split": ["train", "train", "test", "train"],
    })
    manifest = pd.DataFrame({
        "video_id": ["a", "b", "c", "d"], "frames": ["a.zip", "b.zip", "c.zip", "d.zip"],
        "num_frames": [10, 12, 14, 0], "status": ["ok", "partial", "ok", "corrupt"],
    })
    rows = labeled_videos(videos, manifest, tmp_path, "train")
    assert list(rows["video_id"]) == ["a", "b"]
    assert list(rows["num_frames"]) == [10, 12]
    assert rows["frames"][0] == str(tmp_path / "a.zip")
    assert class_names(videos) == ["left", "right"]
    several = videos.assign(split_1=videos["split"], split_2=["test", "train", "train", ""])  # d: out of split 2
    assert list(labeled_videos(several, manifest, tmp_path, "train", "split_2")["video_id"]) == ["b", "c"]


def test_eval_views_rejects_other_crop_counts():
    with pytest.raises(ValueError, match="crops must be 1 or 3"):
        eval_views(np.zeros((1, 2, 8, 8, 3), np.uint8), crop_size=8, crops=2)


def test_split_tables_reads_the_index_and_counts_unusable_videos(tmp_path):
    pd.DataFrame({
        "video_id": ["a", "b", "c", "d"], "path": [""] * 4, "label": [1, 0, 1, 0],
        "label_name": ["up", "down", "up", "down"], "split": ["train", "val", "val", "train"],
    }).to_csv(tmp_path / "videos.csv", index=False)
    (tmp_path / "frames").mkdir()
    pd.DataFrame({
        "video_id": ["a", "b", "c", "d"], "frames": ["a.zip", "b.zip", "", "d.zip"], "num_frames": [8, 8, 0, 8],
        "status": ["ok", "ok", "too_short", "ok"], "reason": ["", "", "3 frames", ""],
    }).to_csv(tmp_path / "frames/manifest.csv", index=False)
    t = split_tables(tmp_path / "videos.csv", tmp_path / "frames", split="val")
    assert t.split == "val" and t.classes == ["down", "up"] and t.skipped == 1
    assert list(t.train["video_id"]) == ["a", "d"] and list(t.test["video_id"]) == ["b"]
    assert t.test["frames"][0] == str(tmp_path / "frames" / "b.zip")
    with pytest.raises(ValueError, match="no video in the test split"):
        split_tables(tmp_path / "videos.csv", tmp_path / "frames", split="test")
