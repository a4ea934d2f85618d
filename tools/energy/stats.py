"""Statistics for a handful of repeats: mean, spread, a 95% interval, and the comparison of two sets.

Repeats are few (3 to 10), so intervals use Student's t rather than the normal value, and two
candidates are compared with Welch's interval for the difference of means, which does not assume
they vary alike (a rewrite often changes the spread as well as the mean).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# Two-sided 95% Student-t quantiles by degrees of freedom; beyond the table the normal value is close.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
        10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}


def t95(dof: float) -> float:
    """The two-sided 95% quantile; fractional degrees of freedom (Welch) round down, which is conservative."""
    if dof < 1:
        return math.inf
    if dof > 30:
        return 1.96
    return _T95[max(d for d in _T95 if d <= dof)]


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
    """A new set of values against an old one, as a relative change with its 95% interval.

    `change` is (new − old) / old: −0.10 is 10% less. The interval is Welch's interval of the
    difference of means, divided by the old mean.
    """

    change: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """True when the whole interval lies on one side of zero."""
        return self.high < 0 or self.low > 0

    def to_dict(self) -> dict:
        return {key: None if math.isinf(value) else value for key, value in asdict(self).items()}


def relative_change(new: list[float], old: list[float]) -> Change:
    a, b = summarize(new), summarize(old)
    if b.mean == 0:
        raise ValueError("the old mean is zero: no relative change")
    diff = a.mean - b.mean
    if a.n < 2 or b.n < 2:
        return Change(change=diff / b.mean, low=-math.inf, high=math.inf)
    va, vb = a.std ** 2 / a.n, b.std ** 2 / b.n
    spread = math.sqrt(va + vb)
    if spread == 0:
        return Change(change=diff / b.mean, low=diff / b.mean, high=diff / b.mean)
    dof = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1))
    half = t95(dof) * spread
    return Change(change=diff / b.mean, low=(diff - half) / b.mean, high=(diff + half) / b.mean)
