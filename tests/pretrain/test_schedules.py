import numpy as np
import pytest

from mscl.pretrain.schedules import cosine_lr, cosine_momentum, step_lr


def test_cosine_lr_length_endpoints_and_warmup():
    lr = cosine_lr(0.02, 1000, warmup_iters=50, warmup_ratio=0.1)
    assert lr.shape == (1000,)
    assert lr[0] == pytest.approx(0.002)  # warmup starts at ratio * base
    assert lr[-1] == pytest.approx(0.0, abs=0.02 * (np.pi / 1000) ** 2)
    assert np.all(np.diff(lr[:50]) > 0)
    assert np.all(np.diff(lr[50:]) <= 0)  # monotone after warmup
    # after warmup it is exactly the plain cosine
    np.testing.assert_allclose(lr[50:], cosine_lr(0.02, 1000)[50:])


def test_cosine_lr_without_warmup_starts_at_base_and_respects_min():
    lr = cosine_lr(1.0, 100, min_lr=0.1)
    assert lr[0] == 1.0 and lr.min() >= 0.1 and lr[50] == pytest.approx(0.55)


def test_cosine_momentum_endpoints_and_monotone():
    m = cosine_momentum(0.994, 400)
    assert m.shape == (400,)
    assert m[0] == pytest.approx(0.994)
    assert m[200] == pytest.approx(0.997)  # halfway: midpoint of the half cosine
    assert m[-1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(m) >= 0) and m.max() <= 1.0


def test_cosine_momentum_at_double_rate_reaches_one_halfway():
    m = cosine_momentum(0.994, 400, rate=2.0)
    np.testing.assert_allclose(m[:200], cosine_momentum(0.994, 200))
    assert np.all(m[200:] == 1.0)


@pytest.mark.parametrize("kwargs", [dict(total_iters=0), dict(total_iters=10, warmup_iters=11)])
def test_lr_bad_lengths_raise(kwargs):
    with pytest.raises(ValueError):
        cosine_lr(0.1, **kwargs)


def test_step_lr_drops_tenfold_at_each_milestone():
    lr = step_lr(0.01, 200, (0.6, 0.8))  # DCLR: epochs 120 and 160 of 200
    np.testing.assert_allclose(lr[:120], 0.01)
    np.testing.assert_allclose(lr[120:160], 0.001)
    np.testing.assert_allclose(lr[160:], 0.0001)
    np.testing.assert_allclose(step_lr(0.5, 7, ()), np.full(7, 0.5))  # no milestones: constant
