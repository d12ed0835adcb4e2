import json

import pytest

from mscl.io.atomic import atomic_path, remove_stale_temporaries, temporary_path, write_json


def test_success_renames_and_leaves_no_temporary(tmp_path):
    write_json(tmp_path / "a" / "m.json", {"x": 1})
    assert json.loads((tmp_path / "a" / "m.json").read_text()) == {"x": 1}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["m.json"]


def test_failure_keeps_old_file_and_removes_temporary(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_remove_stale_temporaries(tmp_path):
    (tmp_path / "sub").mkdir()
    stale = temporary_path(tmp_path / "sub" / "v.zip")
    stale.write_text("partial")
    (tmp_path / "sub" / "keep.zip").write_text("done")
    assert remove_stale_temporaries(tmp_path) == 1
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["keep.zip"]
