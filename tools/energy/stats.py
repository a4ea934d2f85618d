"""Summary statistics for a handful of repeats: mean, spread and a 95% confidence interval."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# Two-sided 95% Student-t quantiles by degrees of freedom; beyond the table the normal value is close.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
        10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}


def t95(dof: int) -> float:
    if dof < 1:
        return math.inf
    known = [d for d in _T95 if d <= dof]
    return _T95[max(known)] if dof <= 30 else 1.96


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float  # sample standard deviation (0 for one value)
    ci95: float  # half-width of the 95% interval of the mean (inf for one value)
    n: int

    @property
    def cv(self) -> float:
        return self.std / self.mean if self.mean else math.inf

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
