import pytest

from mscl.io.datasets import DatasetLayoutError
from mscl.params import IndexParams, default
from mscl.pipeline.index import build_index, index_metrics
from mscl.synthetic import FAMILIES


def test_build_index_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetLayoutError, match="index.root"):
        build_index(default(IndexParams, source="ucf101", root=str(tmp_path / "nowhere")), tmp_path / "raw")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="classInd"):
        build_index(default(IndexParams, source="ucf101", root=str(tmp_path / "empty")), tmp_path / "raw")


def test_build_index_synthetic(tmp_path):
    p = default(IndexParams, videos_per_class=2, num_frames=6, height=32, width=40, test_fraction=0.5)
    df = build_index(p, tmp_path / "raw")
    assert len(df) == 16 and df["label"].nunique() == 8
    assert (df["split"] == "test").sum() == 8
    assert all((tmp_path / "raw" / f"{v}.mp4").exists() for v in df["video_id"])
    assert index_metrics(df) == {"videos": 16, "classes": 8, "train": 8, "val": 0, "test": 8}


def test_build_index_synthetic_relative_family(tmp_path):
    p = default(IndexParams, family="relative", videos_per_class=1, num_frames=4, height=32, width=40)
    df = build_index(p, tmp_path / "raw")
    assert df.sort_values("label")["label_name"].tolist() == list(FAMILIES["relative"])
