import json
import zipfile

import numpy as np
import pytest

from mscl.io.flow_files import FlowReader, clipped_fraction, dequantize, max_lengths, quantize, write_flow


def test_quantize_dequantize_within_one_step():
    bound = 20.0
    f = np.random.default_rng(0).uniform(-bound, bound, (1000, 2)).astype(np.float32)
    err = np.abs(dequantize(quantize(f, bound), bound) - f)
    assert err.max() <= bound / 127 / 2 + 1e-5  # rounding: half a step
    assert quantize(np.array([-bound, 0.0, bound]), bound).tolist() == [0, 127, 254]


def test_zero_flow_is_stored_exactly_and_a_still_frame_stays_still():
    # the earlier 0..255 mapping read 0 px back as +0.078 px, which max normalisation turned into
    # unit vectors: a still background looked like uniform motion to the flow encoder
    import torch

    from mscl.flow.colorwheel import normalize_per_frame

    still = np.zeros((2, 6, 8, 2), np.float32)
    q = quantize(still, 20.0)
    assert (dequantize(q, 20.0) == 0).all() and (dequantize(torch.from_numpy(q), 20.0) == 0).all()
    assert max_lengths(q, 20.0).tolist() == [0.0, 0.0]
    f = torch.from_numpy(dequantize(q, 20.0)).permute(0, 3, 1, 2)  # (T, 2, H, W)
    assert (normalize_per_frame(f) == 0).all()
    # symmetric: -f is stored as the mirror byte of f, so a flipped flow (u -> -u) stays exact
    f = np.linspace(-20, 20, 101, dtype=np.float32)
    assert (quantize(-f, 20.0).astype(int) - 127 == -(quantize(f, 20.0).astype(int) - 127)).all()


def test_values_beyond_the_bound_clip():
    q = quantize(np.array([-100.0, -20.0, 25.0, 1e9]), 20.0)
    assert q.tolist() == [0, 0, 254, 254]
    assert np.allclose(dequantize(q, 20.0), [-20, -20, 20, 20])


def test_clipped_fraction_counts_vectors():
    f = np.zeros((2, 2, 2, 2), np.float32)
    f[0, 0, 0] = [25, 0]
    f[1, 1, 1] = [0, -30]
    assert clipped_fraction(f, 20.0) == 2 / 8


@pytest.mark.parametrize("storage", ["raw", "png"])
def test_container_round_trip(tmp_path, storage):
    rng = np.random.default_rng(1)
    flow = rng.uniform(-10, 10, (5, 12, 16, 2)).astype(np.float32)
    meta = write_flow(tmp_path / "f.zip", flow, bound=10.0, meta={"offset": 8, "step": 2}, storage=storage)
    assert meta["storage"] == storage
    with FlowReader(tmp_path / "f.zip") as r:
        assert len(r) == 5 and r.meta["offset"] == 8 and r.meta["height"] == 12 and r.storage == storage
        back, q = r.read([4, 0]), r.read_quantized([4, 0])
    assert back.shape == (2, 12, 16, 2) and back.dtype == np.float32
    assert np.abs(back - flow[[4, 0]]).max() <= 10.0 / 254 + 1e-5
    np.testing.assert_array_equal(q, quantize(flow[[4, 0]], 10.0))  # both storages are lossless on uint8


def test_raw_members_are_the_frames_uint8_bytes_and_png_is_smaller(tmp_path):
    # a smooth field, as flow is: PNG compresses it, raw stores H * W * 2 bytes per flow
    y, x = np.mgrid[0:32, 0:48].astype(np.float32)
    flow = np.stack([np.stack([x / 8 + t, y / 8 - t], -1) for t in range(3)])
    write_flow(tmp_path / "raw.zip", flow, bound=20.0, meta={}, storage="raw")
    write_flow(tmp_path / "png.zip", flow, bound=20.0, meta={}, storage="png")
    with zipfile.ZipFile(tmp_path / "raw.zip") as zf:
        assert zf.read("000001_uv.raw") == quantize(flow[1], 20.0).tobytes()
    assert (tmp_path / "png.zip").stat().st_size < (tmp_path / "raw.zip").stat().st_size


def test_containers_of_the_earlier_quantisation_are_refused_with_the_command_that_rewrites_them(tmp_path):
    flow = np.random.default_rng(2).uniform(-5, 5, (2, 8, 8, 2)).astype(np.float32)
    write_flow(tmp_path / "f.zip", flow, bound=10.0, meta={}, storage="png")
    _rewrite_meta(tmp_path / "f.zip", lambda m: {k: v for k, v in m.items() if k != "quantization"})
    with pytest.raises(ValueError, match=r"earlier quantisation .*\(dvc repro -f flow\)"):
        FlowReader(tmp_path / "f.zip")


def test_unknown_storage_and_truncated_raw_member_are_clear_errors(tmp_path):
    flow = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="storage must be one of"):
        write_flow(tmp_path / "x.zip", flow, bound=10.0, meta={}, storage="jpeg")
    write_flow(tmp_path / "f.zip", flow, bound=10.0, meta={})
    _rewrite_meta(tmp_path / "f.zip", lambda m: {**m, "storage": "lz4"})
    with pytest.raises(ValueError, match="unknown flow storage 'lz4'; rerun the flow stage"):
        FlowReader(tmp_path / "f.zip")
    _rewrite_meta(tmp_path / "f.zip", lambda m: {**m, "storage": "raw", "height": 5})
    with FlowReader(tmp_path / "f.zip") as r, pytest.raises(ValueError, match="corrupt flow member 000000_uv.raw"):
        r.read_quantized([0])


def _rewrite_meta(path, change) -> None:
    """Rewrite a container's meta.json through ``change`` (as an older or damaged file would hold it)."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["meta.json"] = json.dumps(change(json.loads(members["meta.json"]))).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_max_lengths_from_integers_equal_the_dequantised_longest_vectors():
    q = np.random.default_rng(3).integers(0, 256, (4, 9, 7, 2), dtype=np.uint8)
    expected = np.linalg.norm(dequantize(q, 12.0).astype(np.float64), axis=-1).reshape(4, -1).max(axis=1)
    np.testing.assert_allclose(max_lengths(q, 12.0), expected, rtol=1e-6)
    assert max_lengths(np.full((1, 2, 2, 2), 254, np.uint8), 10.0)[0] == np.float32(10.0 * np.sqrt(2))


@pytest.mark.parametrize("storage", ["raw", "png"])
def test_member_bytes_are_the_stored_members_undecoded(tmp_path, storage):
    flow = np.zeros((2, 6, 8, 2), np.float32)
    write_flow(tmp_path / "f.zip", flow, bound=20.0, meta={}, storage=storage)
    with FlowReader(tmp_path / "f.zip") as r:
        data = r.member_bytes(1)
    assert len(data) == (1 if storage == "raw" else 2)
    if storage == "raw":
        assert len(data[0]) == 6 * 8 * 2
    else:
        assert all(d.startswith(b"\x89PNG") for d in data)
