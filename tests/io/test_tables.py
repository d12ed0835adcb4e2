import pandas as pd
import pytest

from mscl.io.tables import VIDEO_COLUMNS, is_test, read_videos, videos_frame, write_csv


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
