import numpy as np

from mscl.io.flow_files import FlowReader, clipped_fraction, dequantize, quantize, write_flow


def test_quantize_dequantize_within_one_step():
    bound = 20.0
    f = np.random.default_rng(0).uniform(-bound, bound, (1000, 2)).astype(np.float32)
    err = np.abs(dequantize(quantize(f, bound), bound) - f)
    assert err.max() <= 2 * bound / 255 / 2 + 1e-5  # rounding: half a step
    assert quantize(np.array([-bound, bound]), bound).tolist() == [0, 255]


def test_values_beyond_the_bound_clip():
    q = quantize(np.array([-100.0, -20.0, 25.0, 1e9]), 20.0)
    assert q.tolist() == [0, 0, 255, 255]
    assert np.allclose(dequantize(q, 20.0), [-20, -20, 20, 20])


def test_clipped_fraction_counts_vectors():
    f = np.zeros((2, 2, 2, 2), np.float32)
    f[0, 0, 0] = [25, 0]
    f[1, 1, 1] = [0, -30]
    assert clipped_fraction(f, 20.0) == 2 / 8


def test_container_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    flow = rng.uniform(-10, 10, (5, 12, 16, 2)).astype(np.float32)
    write_flow(tmp_path / "f.zip", flow, bound=10.0, meta={"offset": 8, "step": 2})
    with FlowReader(tmp_path / "f.zip") as r:
        assert len(r) == 5 and r.meta["offset"] == 8 and r.meta["height"] == 12
        back = r.read([4, 0])
    assert back.shape == (2, 12, 16, 2) and back.dtype == np.float32
    assert np.abs(back - flow[[4, 0]]).max() <= 10.0 / 255 + 1e-5
