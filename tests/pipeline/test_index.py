import pytest
import yaml

from mscl.io.datasets import DatasetLayoutError
from mscl.params import datasets_from_dict
from mscl.pipeline.index import build_index, index_metrics
from mscl.synthetic import FAMILIES

from helpers import REPO, moving_video


def dataset(**entry):
    """A named dataset's params from ``entry`` (over the demo's ``motion`` for the synthetic source)."""
    if entry.get("source", "synthetic") == "synthetic":
        entry = {**yaml.safe_load((REPO / "params.yaml").read_text())["datasets"]["motion"], **entry}
    return datasets_from_dict({"d": entry})["d"]


def test_build_index_errors_name_the_problem(tmp_path):
    ucf = {"source": "ucf101", "splits": [1], "val_fraction": 0.1}
    with pytest.raises(DatasetLayoutError, match="root = .*nowhere' is not a folder"):
        build_index(dataset(**ucf, root=str(tmp_path / "nowhere")), tmp_path / "raw")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="classInd"):
        build_index(dataset(**ucf, root=str(tmp_path / "empty")), tmp_path / "raw")


def test_build_index_synthetic(tmp_path):
    p = dataset(videos_per_class=4, num_frames=6, height=32, width=40, test_fraction=0.5, val_fraction=0.25)
    df = build_index(p, tmp_path / "raw")
    assert len(df) == 32 and df["label"].nunique() == 8
    assert all((tmp_path / "raw" / f"{v}.mp4").exists() for v in df["video_id"])
    assert index_metrics(df) == {"videos": 32, "classes": 8, "train": 8, "val": 8, "test": 16}


def test_build_index_synthetic_relative_family(tmp_path):
    p = dataset(family="relative", videos_per_class=1, num_frames=4, height=32, width=40)
    df = build_index(p, tmp_path / "raw")
    assert df.sort_values("label")["label_name"].tolist() == list(FAMILIES["relative"])


def test_all_three_official_splits_of_hmdb51_in_one_index(tmp_path):
    root = tmp_path / "hmdb"
    for cls in ("brush_hair", "walk"):
        (root / "videos" / cls).mkdir(parents=True)
        for n in range(3):
            moving_video(root / "videos" / cls / f"{cls}_{n}.avi", frames=4, height=16, width=16)
        for split, flags in ((1, "1 2 0"), (2, "2 0 1"), (3, "0 1 2")):
            lines = "".join(f"{cls}_{n}.avi {f} \n" for n, f in enumerate(flags.split()))
            (root / f"{cls}_test_split{split}.txt").write_text(lines)
    df = build_index(dataset(source="hmdb51", root=str(root), splits=[1, 2, 3], val_fraction=0.0), tmp_path / "raw")
    assert list(df.columns)[-3:] == ["split_1", "split_2", "split_3"]
    rows = df.set_index("video_id")
    assert rows.loc["walk/walk_0", ["split", "split_1", "split_2", "split_3"]].tolist() == ["train", "train", "test", ""]
    assert rows.loc["walk/walk_2", ["split", "split_1", "split_2", "split_3"]].tolist() == ["", "", "train", "test"]
    one = build_index(dataset(source="hmdb51", root=str(root), splits=[2], val_fraction=0.0), tmp_path / "raw")
    assert "split_2" not in one.columns and sorted(one["video_id"]) == ["brush_hair/brush_hair_0", "brush_hair/brush_hair_2",
                                                                        "walk/walk_0", "walk/walk_2"]
