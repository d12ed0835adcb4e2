"""Each adapter parses a miniature copy of its dataset's real layout."""
import json
from pathlib import Path

import pytest

from mscl.io.datasets import DatasetLayoutError, folder_records, hmdb51_records, kinetics_records, ssv2_records, ucf101_records

from helpers import moving_video


def _video(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return moving_video(path, frames=4, height=16, width=16, codec="libvpx-vp9" if path.suffix == ".webm" else "libx264")


def test_ucf101(tmp_path):
    root = tmp_path / "ucf"
    for cls in ("ApplyEyeMakeup", "HandstandPushups"):
        for g in (1, 8):
            _video(root / "UCF-101" / cls / f"v_{cls}_g{g:02d}_c01.avi")
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 HandStandPushups\n")  # case differs from folder, as in UCF101
    (lists / "trainlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nHandstandPushups/v_HandstandPushups_g08_c01.avi 2\n")
    (lists / "testlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\nHandstandPushups/v_HandstandPushups_g01_c01.avi\n")
    recs = ucf101_records(root, 1)
    assert [(r["video_id"], r["label"], r["split"]) for r in recs] == [
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01", 0, "train"),
        ("HandstandPushups/v_HandstandPushups_g08_c01", 1, "train"),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01", 0, "test"),
        ("HandstandPushups/v_HandstandPushups_g01_c01", 1, "test"),
    ]
    assert all(Path(r["path"]).exists() for r in recs)
    with pytest.raises(DatasetLayoutError, match="trainlist02"):
        ucf101_records(root, 2)


def test_hmdb51(tmp_path):
    root = tmp_path / "hmdb"
    for cls in ("brush_hair", "walk"):
        for n in range(3):
            _video(root / "videos" / cls / f"{cls}_{n}.avi")
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir()
    for cls in ("brush_hair", "walk"):
        (splits / f"{cls}_test_split1.txt").write_text(f"{cls}_0.avi 1 \n{cls}_1.avi 2 \n{cls}_2.avi 0 \n")
    recs = hmdb51_records(root, 1)
    assert [(r["video_id"], r["label"], r["label_name"], r["split"]) for r in recs] == [
        ("brush_hair/brush_hair_0", 0, "brush_hair", "train"),
        ("brush_hair/brush_hair_1", 0, "brush_hair", "test"),
        ("walk/walk_0", 1, "walk", "train"),
        ("walk/walk_1", 1, "walk", "test"),
    ]
    with pytest.raises(DatasetLayoutError, match="split2"):
        hmdb51_records(root, 2)


def test_ssv2(tmp_path):
    root = tmp_path / "ssv2"
    for vid in (10, 11, 12):
        _video(root / "20bn-something-something-v2" / f"{vid}.webm")
    ann = root / "labels"
    ann.mkdir()
    (ann / "labels.json").write_text(json.dumps({"Pushing something from left to right": "0", "Holding something": "1"}))
    (ann / "train.json").write_text(json.dumps([
        {"id": "10", "label": "pushing a cup from left to right", "template": "Pushing [something] from left to right", "placeholders": ["a cup"]},
        {"id": "11", "label": "holding a pen", "template": "Holding [something]", "placeholders": ["a pen"]},
    ]))
    (ann / "validation.json").write_text(json.dumps([{"id": "12", "label": "holding x", "template": "Holding [something]", "placeholders": ["x"]}]))
    recs = ssv2_records(root)
    assert [(r["video_id"], r["label"], r["split"]) for r in recs] == [("10", 0, "train"), ("11", 1, "train"), ("12", 1, "val")]
    assert recs[0]["label_name"] == "Pushing something from left to right"


def test_kinetics(tmp_path):
    root = tmp_path / "k400"
    _video(root / "train" / "abseiling" / "aaa_000010_000020.mp4")
    _video(root / "train" / "zumba" / "bbb_000000_000010.mp4")
    _video(root / "val" / "zumba" / "ccc_000005_000015.mp4")
    (root / "annotations").mkdir()
    (root / "annotations" / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split\nabseiling,aaa,10,20,train\nzumba,bbb,0,10,train\nzumba,missing,0,10,train\n")
    (root / "annotations" / "validate.csv").write_text("label,youtube_id,time_start,time_end,split\nzumba,ccc,5,15,validate\n")
    recs = kinetics_records(root)
    assert sorted((r["video_id"], r["label"], r["split"]) for r in recs) == [
        ("aaa_000010_000020", 0, "train"), ("bbb_000000_000010", 1, "train"), ("ccc_000005_000015", 1, "val")]


def test_folder_layout_with_deterministic_split(tmp_path):
    for cls in ("a", "b"):
        for n in range(4):
            _video(tmp_path / cls / f"{n}.mp4")
    (tmp_path / "a" / "notes.txt").write_text("not a video")
    recs = folder_records(tmp_path, 0.25)
    assert len(recs) == 8
    assert [r["video_id"] for r in recs if r["split"] == "test"] == ["a/3", "b/3"]
    assert {r["label_name"]: r["label"] for r in recs} == {"a": 0, "b": 1}
