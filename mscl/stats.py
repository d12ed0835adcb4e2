"""Statistics of a benchmark grid: per-arm spread, the confidence interval of a difference between
two arms over seeds, and how many seeds a margin needs.

Seeds pair: seed s of every arm draws the same data order and crops where the arms share them, so
two arms run on the same seeds are compared per seed (a paired t-interval on the differences);
arms on different seeds by Welch's unequal-variance interval. Values are percentages, one per
seed; no value is dropped or added after it is seen (the seeds are fixed in the preset first).
"""
from __future__ import annotations

import dataclasses
import math
import statistics

from scipy import stats as _st


@dataclasses.dataclass(frozen=True)
class Difference:
    """``a - b`` of two arms' metric: mean difference, its CI at ``level``, two-sided p-value of
    "no difference", the test used and the number of seeds of each arm."""

    mean: float
    low: float
    high: float
    p: float
    test: str  # "paired" | "welch"
    n: tuple[int, int]
    level: float = 0.95

    @property
    def above_zero(self) -> bool:
        """Whether the whole interval lies above 0: the only case a report may say "a beats b"."""
        return self.low > 0  # False for an undetermined interval (nan)

    @property
    def determined(self) -> bool:
        """False when the seeds showed no spread at all (see ``difference``)."""
        return not math.isnan(self.low)


def spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def no_spread(sd: float, mean: float) -> bool:
    """Whether ``sd`` is 0 but for rounding: 33.3 - 30.1 and 34.4 - 31.2 differ by about 1e-15."""
    return sd <= 1e-9 * max(1.0, abs(mean))


def difference(a: dict[int, float], b: dict[int, float], level: float = 0.95) -> Difference:
    """CI of mean(a) - mean(b) for per-seed values ``{seed: value}``: paired when both arms ran the
    same seeds (at least two), Welch otherwise (each arm needs two seeds).

    Seeds that show no spread (identical paired differences, or constant arms under Welch) leave
    the interval undetermined: the sample sd of 0 estimates a spread that is not 0 (top-1 on 200
    videos moves in steps of 0.5 points, so two seeds can agree by chance), and a zero-width
    interval would read as certainty. ``low``, ``high`` and ``p`` are then nan, and the difference
    is not above zero.

    Raises:
        ValueError: fewer seeds than the test needs.
    """
    if set(a) == set(b) and len(a) >= 2:
        d = [a[s] - b[s] for s in sorted(a)]
        mean, sd = spread(d)
        n = len(d)
        if no_spread(sd, mean):
            return Difference(mean, math.nan, math.nan, math.nan, "paired", (n, n), level)
        half = float(_st.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
        p = 2 * _st.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1)
        return Difference(mean, mean - half, mean + half, float(p), "paired", (n, n), level)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"a difference needs two seeds per arm (got {len(a)} and {len(b)})")
    (ma, sa), (mb, sb) = spread(list(a.values())), spread(list(b.values()))
    va, vb = sa**2 / len(a), sb**2 / len(b)
    mean, se = ma - mb, math.sqrt(va + vb)
    if no_spread(se, mean):
        return Difference(mean, math.nan, math.nan, math.nan, "welch", (len(a), len(b)), level)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # Welch-Satterthwaite
    half = float(_st.t.ppf(0.5 + level / 2, df)) * se
    p = 2 * _st.t.sf(abs(mean) / se, df)
    return Difference(mean, mean - half, mean + half, float(p), "welch", (len(a), len(b)), level)


def paired_power(n: int, margin: float, sd: float, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test over ``n`` seeds to find a true mean difference
    ``margin`` when the per-seed differences have standard deviation ``sd`` (noncentral t)."""
    if n < 2:
        return 0.0
    if sd <= 0:
        return 1.0
    df, nc = n - 1, margin / (sd / math.sqrt(n))
    crit = _st.t.ppf(1 - alpha / 2, df)
    # The far tail as sf(crit; -nc) rather than cdf(-crit; nc): the same number by symmetry, but
    # scipy's noncentral t cdf returns NaN there once nc is large (about 10 and up).
    return float(_st.nct.sf(crit, df, nc) + _st.nct.sf(crit, df, -nc))


def seeds_needed(margin: float, sd: float, *, power: float = 0.8, alpha: float = 0.05, most: int = 200) -> int:
    """Fewest seeds for which the paired t-test reaches ``power`` against ``margin`` (the seeds'
    differences having standard deviation ``sd``); ``most`` + 1 when even ``most`` do not.

    Raises:
        ValueError: ``sd`` is not positive (a pilot without spread cannot size a grid).
    """
    if not sd > 0:
        raise ValueError(f"a seed count needs a positive sd of the differences (got {sd})")
    for n in range(2, most + 1):
        if paired_power(n, margin, sd, alpha) >= power:
            return n
    return most + 1
