"""Summary statistics of repeated measurements."""

import math

import pytest

from tools.energy.stats import summarize, t95


def test_one_value_has_no_interval():
    stat = summarize([10.0])
    assert stat.mean == 10.0 and stat.std == 0.0 and math.isinf(stat.ci95) and stat.to_dict()["ci95"] is None


def test_mean_spread_and_interval_of_several_values():
    stat = summarize([9.0, 10.0, 11.0])
    assert stat.mean == pytest.approx(10.0)
    assert stat.std == pytest.approx(1.0)
    assert stat.ci95 == pytest.approx(4.303 / math.sqrt(3))
    assert stat.cv == pytest.approx(0.1)


def test_t_quantiles_shrink_towards_the_normal_value():
    assert t95(1) > t95(4) > t95(30) > t95(1000) == 1.96
