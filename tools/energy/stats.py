"""Statistics for a handful of repeats: mean, spread, a 95% interval, and the change between two sets.

Repeats are few (3 to 20), so intervals use Student's t with its exact quantile for any degrees of
freedom, fractional ones (Welch) included: the quantile is found by bisection on the t distribution's
CDF, written with the regularized incomplete beta function (a continued fraction). The venv has no
SciPy, and forty lines of textbook numerics are cheaper than a dependency.

A change is the ratio of two means, new / old − 1, with its interval taken on the log of the ratio
(delta method): exp of a symmetric interval on the log scale, so no interval can pass −100%, however
few or noisy the runs. Paired runs (measured alternately, in one time window) use the spread of the
pairs' differences, so what the two shared — a drift of the machine — cancels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta I_x(a, b), by its continued fraction (modified Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast below this point: use the symmetry
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    tiny = 1e-300
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            step = 1.0
        elif i % 2 == 0:
            step = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            step = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + step * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + step / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * (f - 1.0)


def t_cdf(t: float, dof: float) -> float:
    """P(T <= t) for Student's t with `dof` (> 0, any real) degrees of freedom."""
    tail = 0.5 * _incomplete_beta(dof / 2, 0.5, dof / (dof + t * t))
    return 1.0 - tail if t > 0 else tail


@lru_cache(maxsize=4096)  # the rule asks for the same few (level, pairs − 1) again and again
def t_quantile(p: float, dof: float) -> float:
    """The t value below which a share `p` of the distribution lies (0 < p < 1)."""
    if not 0 < p < 1:
        raise ValueError(f"a quantile needs 0 < p < 1, not {p}")
    if p < 0.5:
        return -t_quantile(1 - p, dof)
    low, high = 0.0, 1.0
    while t_cdf(high, dof) < p:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_cdf(mid, dof) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def t95(dof: float) -> float:
    """The two-sided 95% quantile for any degrees of freedom; infinite below one."""
    return math.inf if dof < 1 else t_quantile(0.975, dof)


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float  # sample standard deviation (0 for one value)
    ci95: float  # half-width of the 95% interval of the mean (inf for one value)
    n: int

    @property
    def cv(self) -> float:
        """Coefficient of variation: the spread of one run relative to the mean."""
        return self.std / self.mean if self.mean else math.inf

    @property
    def relative_ci(self) -> float:
        """Half-width of the interval relative to the mean: how well the mean is known."""
        return self.ci95 / abs(self.mean) if self.mean else math.inf

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ci95"] = None if math.isinf(self.ci95) else self.ci95
        return data


def summarize(values: list[float]) -> Stat:
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = sum(values) / n
    if n == 1:
        return Stat(mean=mean, std=0.0, ci95=math.inf, n=1)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return Stat(mean=mean, std=std, ci95=t95(n - 1) * std / math.sqrt(n), n=n)


@dataclass(frozen=True)
class Change:
    """A relative change, (new − old) / old, with an interval: −0.10 is 10% less.

    `low` is never below −1 (−100%); `high` is infinite when the runs give no interval.
    """

    change: float
    low: float
    high: float

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.high)

    @property
    def significant(self) -> bool:
        """True when the whole interval lies on one side of zero."""
        return self.high < 0 or self.low > 0

    def to_dict(self) -> dict:
        return {key: None if math.isinf(value) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class Ratio:
    """The log of a ratio of means, log(new / old), with its standard error and degrees of freedom."""

    log: float
    se: float
    dof: float  # 0 when the runs give no spread to judge by (a single run)
    n: int  # runs (or pairs) of the new set

    def change(self, confidence: float = 0.95) -> Change:
        """The change with its two-sided interval."""
        half = self._t(1 - (1 - confidence) / 2) * self.se
        return Change(_change(self.log), _change(self.log - half), _change(self.log + half))

    def upper(self, alpha: float) -> float:
        """The one-sided upper bound of the change at level 1 − alpha: the saving is at least −upper."""
        return _change(self.log + self._t(1 - alpha) * self.se)

    def _t(self, p: float) -> float:
        if self.se == 0:
            return 0.0
        return math.inf if self.dof < 1 else t_quantile(p, self.dof)

    def to_dict(self) -> dict:
        change = self.change()
        return {"log_ratio": self.log, "se": self.se, "dof": self.dof, "n": self.n, "change": change.change,
                "low": change.low, "high": None if math.isinf(change.high) else change.high}


def _change(log_ratio: float) -> float:
    """exp(log_ratio) − 1, infinite where the exponential overflows."""
    return math.expm1(log_ratio) if log_ratio < 700 else math.inf


def ratio_of_means(new: list[float], old: list[float]) -> Ratio | None:
    """Two independent sets: delta-method standard error of log(mean new / mean old), Welch's dof.

    None when a mean is not positive: there is no ratio to speak of (a net energy at or below zero).
    """
    a, b = summarize(new), summarize(old)
    if a.mean <= 0 or b.mean <= 0:
        return None
    log = math.log(a.mean / b.mean)
    if a.n < 2 or b.n < 2:
        return Ratio(log, math.inf, 0.0, a.n)
    va, vb = (a.std / a.mean) ** 2 / a.n, (b.std / b.mean) ** 2 / b.n
    if va + vb == 0:
        return Ratio(log, 0.0, math.inf, a.n)
    dof = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1))
    return Ratio(log, math.sqrt(va + vb), dof, a.n)


def paired_ratio(new: list[float], old: list[float]) -> Ratio | None:
    """Pairs measured together: the delta-method error of log(mean new / mean old) from the pairs.

    Each pair's linearized difference new_i / mean_new − old_i / mean_old carries what the pair did
    not share; what it shared (a slower machine for both runs) drops out. n − 1 degrees of freedom.
    """
    if len(new) != len(old):
        raise ValueError(f"{len(new)} new runs and {len(old)} old ones do not pair up")
    a, b = summarize(new), summarize(old)
    if a.mean <= 0 or b.mean <= 0:
        return None
    log = math.log(a.mean / b.mean)
    if a.n < 2:
        return Ratio(log, math.inf, 0.0, a.n)
    spread = summarize([x / a.mean - y / b.mean for x, y in zip(new, old)]).std
    return Ratio(log, spread / math.sqrt(a.n), a.n - 1, a.n)


def relative_change(new: list[float], old: list[float]) -> Change | None:
    """The change of two independent sets with its 95% interval; None when a mean is not positive."""
    ratio = ratio_of_means(new, old)
    return ratio.change() if ratio else None
