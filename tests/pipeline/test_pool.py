from mscl.pipeline.pool import parallel_map


def _square(x):
    return x * x


def test_parallel_map_returns_every_result():
    assert sorted(parallel_map(_square, list(range(6)), workers=2, desc="t")) == [x * x for x in range(6)]
    assert list(parallel_map(_square, [3], workers=2, desc="t")) == [9]
