import os
import zipfile

import pandas as pd
import pytest

from mscl.io.frames import FrameReader
from mscl.params import FramesParams, default
from mscl.pipeline.frames import MANIFEST_COLUMNS, extract_frames

from helpers import moving_video


def _videos(paths):
    return pd.DataFrame({"video_id": [f"c/{p.stem}" for p in paths], "path": [str(p) for p in paths]})


@pytest.fixture
def bad_and_good(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = [moving_video(src / f"good{i}.mp4", frames=20, seed=i) for i in range(2)]
    (src / "zero.mp4").write_bytes(b"")
    data = good[0].read_bytes()
    (src / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (src / "text.mp4").write_text("just some text\n")
    moving_video(src / "short.mp4", frames=5)
    (src / "folder.mp4").mkdir()
    paths = [*good, src / "zero.mp4", src / "truncated.mp4", src / "text.mp4", src / "short.mp4", src / "missing.mp4", src / "folder.mp4"]
    return _videos(paths)


def test_bad_inputs_are_named_counted_and_skipped(tmp_path, bad_and_good):
    manifest, metrics = extract_frames(bad_and_good, tmp_path / "frames", default(FramesParams, short_side=32, min_frames=8, workers=1))
    assert list(manifest.columns) == MANIFEST_COLUMNS
    status = dict(zip(manifest["video_id"], manifest["status"]))
    assert status == {"c/good0": "ok", "c/good1": "ok", "c/zero": "empty", "c/truncated": "unreadable", "c/text": "unreadable",
                      "c/short": "too_short", "c/missing": "missing", "c/folder": "unreadable"}
    failed = manifest[manifest["status"] != "ok"]
    assert (failed["reason"].str.len() > 0).all() and (failed["frames"] == "").all()
    assert metrics["videos"] == 8 and metrics["usable"] == 2 and metrics["failed"] == 6
    assert metrics["status"] == {"empty": 1, "missing": 1, "ok": 2, "too_short": 1, "unreadable": 3}
    with FrameReader(tmp_path / "frames" / "c" / "good0.zip") as r:
        assert len(r) == 20 and r.read([0]).shape == (1, 32, 43, 3)
    assert not (tmp_path / "frames" / "c" / "short.zip").exists()


def test_parallel_workers_give_the_same_manifest(tmp_path, bad_and_good):
    p = default(FramesParams, short_side=32, min_frames=8, workers=1)
    one, _ = extract_frames(bad_and_good, tmp_path / "a", p)
    two, _ = extract_frames(bad_and_good, tmp_path / "b", default(FramesParams, short_side=32, min_frames=8, workers=2))
    pd.testing.assert_frame_equal(one, two)


def test_rerun_reuses_done_videos_and_params_change_invalidates(tmp_path):
    src = [moving_video(tmp_path / f"v{i}.mp4", frames=10, seed=i) for i in range(3)]
    videos, out = _videos(src), tmp_path / "frames"
    p = default(FramesParams, short_side=24, min_frames=4, workers=1)
    extract_frames(videos, out, p)
    before = {f: os.stat(f).st_ino for f in out.rglob("*.zip")}
    _, metrics = extract_frames(videos, out, p)
    assert metrics["reused"] == 3 and {f: os.stat(f).st_ino for f in out.rglob("*.zip")} == before
    manifest, metrics = extract_frames(videos, out, default(FramesParams, short_side=16, min_frames=4, workers=1))
    assert metrics["reused"] == 0 and (manifest["height"] == 16).all()


def test_videos_dropped_from_the_index_lose_their_containers(tmp_path):
    src = [moving_video(tmp_path / f"v{i}.mp4", frames=10, seed=i) for i in range(2)]
    p = default(FramesParams, short_side=24, min_frames=4, workers=1)
    extract_frames(_videos(src), tmp_path / "frames", p)
    extract_frames(_videos(src[:1]), tmp_path / "frames", p)
    assert [f.name for f in (tmp_path / "frames").rglob("*.zip")] == ["v0.zip"]


def test_resume_is_by_content_not_by_name_place_or_mtime(tmp_path):
    src = [moving_video(tmp_path / f"v{i}.mp4", frames=10, seed=i) for i in range(2)]
    p = default(FramesParams, short_side=24, min_frames=4, workers=1)
    out = tmp_path / "frames"
    extract_frames(_videos(src), out, p)
    before = {f: f.read_bytes() for f in out.rglob("*.zip")}
    # the same bytes written again (a regenerated index, a `dvc pull`): new mtime, reused
    for f in src:
        data = f.read_bytes()
        f.unlink()
        f.write_bytes(data)
        os.utime(f, (1, 1))
    _, metrics = extract_frames(_videos(src), out, p)
    assert metrics["reused"] == 2 and {f: f.read_bytes() for f in out.rglob("*.zip")} == before
    # other bytes under the same name and mtime: recomputed
    stat = os.stat(src[1])
    moving_video(src[1], frames=10, seed=7)
    os.utime(src[1], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    _, metrics = extract_frames(_videos(src), out, p)
    assert metrics["reused"] == 1
    assert (out / "c/v0.zip").read_bytes() == before[out / "c/v0.zip"]
    assert (out / "c/v1.zip").read_bytes() != before[out / "c/v1.zip"]


def test_containers_are_the_same_bytes_on_every_run(tmp_path):
    """No timestamp inside the zip: identical frames give an identical file (and DVC hash)."""
    src = [moving_video(tmp_path / "v0.mp4", frames=10)]
    p = default(FramesParams, short_side=24, min_frames=4, workers=1)
    extract_frames(_videos(src), tmp_path / "a", p)
    extract_frames(_videos(src), tmp_path / "b", p)
    assert (tmp_path / "a/c/v0.zip").read_bytes() == (tmp_path / "b/c/v0.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a/c/v0.zip") as zf:  # not the clock's time (2 s resolution)
        assert {m.date_time for m in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_raising_min_frames_marks_finished_videos_too_short_as_a_fresh_run_does(tmp_path):
    src = [moving_video(tmp_path / "v0.mp4", frames=10), moving_video(tmp_path / "v1.mp4", frames=20, seed=1)]
    out = tmp_path / "frames"
    extract_frames(_videos(src), out, default(FramesParams, short_side=24, min_frames=4, workers=1))
    resumed, metrics = extract_frames(_videos(src), out, default(FramesParams, short_side=24, min_frames=16, workers=1))
    fresh, _ = extract_frames(_videos(src), tmp_path / "fresh", default(FramesParams, short_side=24, min_frames=16, workers=1))
    pd.testing.assert_frame_equal(resumed, fresh)
    assert list(resumed["status"]) == ["too_short", "ok"] and metrics["reused"] == 2
    assert sorted(f.name for f in out.rglob("*.zip")) == ["v1.zip"]


def test_a_rerun_reads_no_unchanged_video_and_a_rewritten_one_is_decoded_again(tmp_path, monkeypatch):
    from mscl.io import digest

    src = [moving_video(tmp_path / f"v{i}.mp4", frames=10, seed=i) for i in range(2)]
    videos, out = _videos(src), tmp_path / "frames"
    p = default(FramesParams, short_side=24, min_frames=4, workers=1)
    extract_frames(videos, out, p)
    reads = []
    hashed = digest.file_digest
    monkeypatch.setattr(digest, "file_digest", lambda path: reads.append(path) or hashed(path))
    _, metrics = extract_frames(videos, out, p)
    assert reads == [] and metrics["reused"] == 2
    moving_video(src[1], frames=12, seed=7)  # another video under the same name
    manifest, metrics = extract_frames(videos, out, p)
    assert reads == [str(src[1])] and metrics["reused"] == 1 and manifest.loc[1, "num_frames"] == 12
