import pandas as pd
import pytest

from mscl.io.tables import VIDEO_COLUMNS, is_test, read_videos, split_of, videos_frame, write_csv


def _rec(i, split="train"):
    return {"video_id": f"c/v{i}", "path": f"x/v{i}.mp4", "label": i % 2, "label_name": "ab"[i % 2], "split": split}


def test_round_trip_keeps_ids_as_strings(tmp_path):
    df = videos_frame([{**_rec(0), "video_id": "00123"}, _rec(1, "test")])
    write_csv(df, tmp_path / "v.csv")
    back = read_videos(tmp_path / "v.csv")
    assert list(back.columns) == VIDEO_COLUMNS
    assert back["video_id"].tolist() == ["00123", "c/v1"]
    assert back["label"].dtype.kind == "i"


def test_duplicates_and_bad_splits_rejected():
    with pytest.raises(ValueError, match="duplicate video ids"):
        videos_frame([_rec(0), _rec(0)])
    with pytest.raises(ValueError, match="unknown split"):
        videos_frame([_rec(0, "training")])


def test_missing_column_is_named(tmp_path):
    pd.DataFrame({"video_id": ["a"]}).to_csv(tmp_path / "v.csv", index=False)
    with pytest.raises(ValueError, match="missing columns"):
        read_videos(tmp_path / "v.csv")


def test_is_test_fraction():
    flags = [is_test(i, 0.25) for i in range(8)]
    assert flags == [False, False, False, True] * 2
    assert not any(is_test(i, 0.0) for i in range(5))


def test_split_of_gives_exact_counts_and_keeps_the_test_videos_of_is_test():
    splits = [split_of(i, 0.5, 0.25) for i in range(12)]
    assert splits == ["train", "test", "val", "test", "train", "test", "val", "test", "train", "test", "val", "test"]
    for n, tf, vf in ((12, 0.5, 0.25), (20, 0.25, 0.25), (50, 0.5, 0.1), (7, 0.0, 0.3)):
        splits = [split_of(i, tf, vf) for i in range(n)]
        assert splits.count("test") == int(n * tf), (n, tf, vf)
        assert [s == "test" for s in splits] == [is_test(i, tf) for i in range(n)]  # a val split moves no test video
        assert abs(splits.count("val") - n * vf) < 1, (n, tf, vf, splits.count("val"))
    assert "val" not in {split_of(i, 0.5, 0.0) for i in range(10)}
