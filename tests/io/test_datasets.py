"""Each adapter parses a miniature copy of its dataset's real layout."""
import json
from pathlib import Path

import pytest

from mscl.io.datasets import (DatasetLayoutError, carve_val, folder_records, hmdb51_group, hmdb51_records, kinetics_group,
                              kinetics_records, merge_splits, ssv2_records, ucf101_group, ucf101_records)
from mscl.io.tables import videos_frame

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
    # validation.json is the split the field reports: test
    assert [(r["video_id"], r["label"], r["split"]) for r in recs] == [("10", 0, "train"), ("11", 1, "train"), ("12", 1, "test")]
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
    _video(root / "test" / "ddd_000000_000010.mp4")
    (root / "annotations" / "test.csv").write_text("label,youtube_id,time_start,time_end,split\nzumba,ddd,0,10,test\n")
    recs = kinetics_records(root)
    # validate is the split the field reports (test); the official test list is left out
    assert sorted((r["video_id"], r["label"], r["split"]) for r in recs) == [
        ("aaa_000010_000020", 0, "train"), ("bbb_000000_000010", 1, "train"), ("ccc_000005_000015", 1, "test")]


def test_folder_layout_with_deterministic_split(tmp_path):
    for cls in ("a", "b"):
        for n in range(4):
            _video(tmp_path / cls / f"{n}.mp4")
    (tmp_path / "a" / "notes.txt").write_text("not a video")
    recs = folder_records(tmp_path, 0.25, 0.0)
    assert len(recs) == 8
    assert [r["video_id"] for r in recs if r["split"] == "test"] == ["a/3", "b/3"]
    assert {r["label_name"]: r["label"] for r in recs} == {"a": 0, "b": 1}
    recs = folder_records(tmp_path, 0.25, 0.25)
    assert [r["split"] for r in recs if r["label"] == 0] == ["train", "train", "val", "test"]


def test_folder_layout_with_the_users_split_folders(tmp_path):
    for split, cls, n in (("train", "a", 0), ("train", "a", 1), ("train", "b", 0), ("val", "a", 2), ("test", "b", 1)):
        _video(tmp_path / split / cls / f"{n}.mp4")
    recs = folder_records(tmp_path, 0.0, 0.0)
    assert sorted((r["video_id"], r["label"], r["split"]) for r in recs) == [
        ("test/b/1", 1, "test"), ("train/a/0", 0, "train"), ("train/a/1", 0, "train"), ("train/b/0", 1, "train"),
        ("val/a/2", 0, "val")]
    with pytest.raises(DatasetLayoutError, match="the train/val/test folders are the splits"):
        folder_records(tmp_path, 0.5, 0.0)


def _train(video_ids, label=0):
    return [{"video_id": v, "label": label, "split": "train"} for v in video_ids]


def test_val_is_carved_from_train_by_whole_groups_stably():
    ucf = [f"A/v_A_g{g:02d}_c{c:02d}" for g in range(8, 26) for c in range(1, 5)]  # 18 groups of 4 clips
    recs = carve_val(_train(ucf) + [{"video_id": "A/v_A_g01_c01", "label": 0, "split": "test"}], 0.1, ucf101_group)
    val = {r["video_id"] for r in recs if r["split"] == "val"}
    assert len(val) == 2 * 4 and len({ucf101_group(v) for v in val}) == 2  # round(0.1 x 18) whole groups
    assert recs[-1]["split"] == "test"  # test is never touched
    # the same groups whatever else the index holds: another class, the order of the records
    again = carve_val(_train(ucf[::-1]) + _train([f"B/v_B_g{g:02d}_c01" for g in range(8, 20)], label=1), 0.1, ucf101_group)
    assert {r["video_id"] for r in again if r["split"] == "val" and r["label"] == 0} == val
    assert all(r["split"] == "train" for r in carve_val(_train(ucf), 0.0, ucf101_group))


def test_group_names_of_the_real_datasets():
    assert ucf101_group("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01") == "ApplyEyeMakeup/v_ApplyEyeMakeup_g08"
    assert hmdb51_group("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_2") == "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo"
    assert kinetics_group("-3B32lodo2M_000059_000069") == "-3B32lodo2M"


def test_several_official_splits_in_one_index():
    one = [{"video_id": "a", "split": "train"}, {"video_id": "b", "split": "test"}]
    two = [{"video_id": "a", "split": "test"}, {"video_id": "c", "split": "train"}]  # HMDB51: b unused in split 2
    rows = merge_splits({2: two, 1: one})
    assert [(r["video_id"], r["split"], r["split_1"], r["split_2"]) for r in rows] == [
        ("a", "test", "train", "test"), ("c", "train", "", "train"), ("b", "", "test", "")]
    df = videos_frame([{**r, "path": "p", "label": 0, "label_name": "x"} for r in rows])
    assert list(df.columns)[-2:] == ["split_1", "split_2"]
