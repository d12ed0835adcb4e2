"""Confidence intervals and seed counts against hand-computed and published values."""
import math

import pytest

from mscl.stats import difference, paired_power, seeds_needed, spread


def test_paired_interval_by_hand():
    # differences 2, 3, 4: mean 3, sd 1, se 1/sqrt(3); t(0.975, df 2) = 4.3027
    d = difference({0: 10.0, 1: 12.0, 2: 14.0}, {0: 8.0, 1: 9.0, 2: 10.0})
    assert d.test == "paired" and d.n == (3, 3)
    assert d.mean == pytest.approx(3.0)
    assert d.low == pytest.approx(3 - 4.3027 / 3**0.5, abs=1e-3) and d.high == pytest.approx(3 + 4.3027 / 3**0.5, abs=1e-3)
    assert d.above_zero and d.p == pytest.approx(0.0351, abs=1e-3)


def test_welch_interval_reproduces_the_published_audit_of_the_first_motion_benchmark():
    # mscl-paper vs moco-rgb linear top-1 over seeds 0-2: +21.8, Welch p = 0.11, CI [-11.7, 55.4]
    d = difference({0: 27.0, 1: 45.5, 2: 18.5}, {10: 7.5, 11: 10.5, 12: 7.5})
    assert d.test == "welch"
    assert (round(d.mean, 1), round(d.low, 1), round(d.high, 1), round(d.p, 2)) == (21.8, -11.7, 55.4, 0.11)
    assert not d.above_zero


def test_seeds_that_do_not_pair_fall_back_to_welch_and_too_few_are_refused():
    assert difference({0: 1.0, 1: 2.0, 2: 3.0}, {0: 1.0, 1: 2.0}).test == "welch"
    with pytest.raises(ValueError, match="two seeds per arm"):
        difference({0: 1.0}, {1: 2.0, 2: 3.0})


def test_seeds_without_spread_leave_the_interval_undetermined():
    # two seeds that both gain exactly 1 point: a zero-width interval would claim certainty
    d = difference({0: 5.0, 1: 7.0}, {0: 4.0, 1: 6.0})
    assert d.mean == 1.0 and not d.determined and not d.above_zero
    assert math.isnan(d.low) and math.isnan(d.high) and math.isnan(d.p)
    w = difference({0: 5.0, 1: 5.0}, {2: 4.0, 3: 4.0})  # Welch, both arms constant
    assert w.test == "welch" and not w.determined and not w.above_zero
    assert difference({0: 5.0, 1: 7.0}, {0: 4.0, 1: 5.0}).determined
    r = difference({0: 33.3, 1: 34.4}, {0: 30.1, 1: 31.2})  # 3.2 both times, but for 1e-15 of rounding
    assert not r.determined and not r.above_zero
    with pytest.raises(ValueError, match="positive sd"):
        seeds_needed(10.0, 0.0)


def test_power_and_seed_counts_match_the_published_paired_t_values():
    # paired two-sided t-test, alpha 0.05, power 0.8: effect size 1 needs 10 pairs, 0.5 needs 34
    assert seeds_needed(1.0, 1.0) == 10 and seeds_needed(5.0, 10.0) == 34
    assert paired_power(10, 1.0, 1.0) == pytest.approx(0.803, abs=2e-3)
    assert paired_power(1, 1.0, 1.0) == 0.0 and seeds_needed(0.01, 10.0, most=50) == 51


def test_power_stays_a_number_when_the_margin_is_many_standard_errors():
    # margin 10 over sd 1.5: noncentrality 11.5 at 3 seeds, where the t-test is all but certain;
    # the far tail is negligible, so the power is the near tail alone
    powers = [paired_power(n, 10.0, 1.5) for n in range(2, 12)]
    assert all(math.isfinite(p) for p in powers)
    assert powers == sorted(powers) and powers[1] == pytest.approx(0.9986, abs=1e-3)
    assert seeds_needed(10.0, 1.5) == 3 and seeds_needed(10.0, 0.8) == 2


def test_spread_of_one_value_has_no_sd():
    assert spread([3.0]) == (3.0, 0.0) and spread([1.0, 3.0])[1] == pytest.approx(2**0.5)
