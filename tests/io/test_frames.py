import zipfile

import numpy as np

from mscl.io.frames import FrameReader, read_meta, write_frames


def test_write_read_random_access(tmp_path):
    rng = np.random.default_rng(0)
    frames = np.repeat(np.linspace(0, 255, 10).astype(np.uint8)[:, None, None, None], 3, 3) * np.ones((1, 16, 24, 3), np.uint8)
    frames[..., 0] = rng.integers(0, 3, (10, 16, 24))  # small noise on red, flat green/blue per frame
    write_frames(tmp_path / "v.zip", frames, quality=95, meta={"fingerprint": "abc"})
    with FrameReader(tmp_path / "v.zip") as r:
        assert len(r) == 10 and r.meta["height"] == 16 and r.meta["width"] == 24
        clip = r.read([7, 2, 2])
    assert clip.shape == (3, 16, 24, 3) and clip.dtype == np.uint8
    assert np.abs(clip[:, ..., 1].astype(int) - frames[[7, 2, 2], ..., 1]).max() <= 2


def test_container_is_one_stored_zip_with_meta_last(tmp_path):
    write_frames(tmp_path / "v.zip", np.zeros((3, 8, 8, 3), np.uint8), quality=90, meta={"fingerprint": "x"})
    with zipfile.ZipFile(tmp_path / "v.zip") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["000000.jpg", "000001.jpg", "000002.jpg", "meta.json"]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert read_meta(tmp_path / "v.zip")["num_frames"] == 3


def test_read_meta_of_missing_or_broken_file(tmp_path):
    assert read_meta(tmp_path / "none.zip") is None
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04garbage")
    assert read_meta(tmp_path / "broken.zip") is None


def test_frames_decode_as_rgb_in_both_forms(tmp_path):
    frames = np.zeros((2, 16, 16, 3), np.uint8)
    frames[0, ..., 0] = 250  # red
    frames[1, ..., 2] = 250  # blue
    write_frames(tmp_path / "v.zip", frames, quality=95, meta={})
    with FrameReader(tmp_path / "v.zip") as r:
        each, stacked = r.read_each([0, 1]), r.read([0, 1])
    for got in (np.stack(each), stacked):
        assert np.abs(got.astype(int) - frames).max() <= 4
