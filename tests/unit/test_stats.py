"""Summary statistics of repeated measurements."""

import math

import pytest

from tools.energy.stats import relative_change, summarize, t95


def test_one_value_has_no_interval():
    stat = summarize([10.0])
    assert stat.mean == 10.0 and stat.std == 0.0 and math.isinf(stat.ci95) and stat.to_dict()["ci95"] is None


def test_mean_spread_and_interval_of_several_values():
    stat = summarize([9.0, 10.0, 11.0])
    assert stat.mean == pytest.approx(10.0)
    assert stat.std == pytest.approx(1.0)
    assert stat.ci95 == pytest.approx(4.3027 / math.sqrt(3), rel=1e-4)
    assert stat.cv == pytest.approx(0.1)


def test_t_quantiles_shrink_towards_the_normal_value():
    assert t95(1) > t95(4) > t95(30) > t95(1000) > 1.96


def test_interval_of_a_relative_change():
    change = relative_change([9.0, 9.1, 8.9], [10.0, 10.2, 9.8])
    assert change.change == pytest.approx(-0.1)
    assert change.low < -0.1 < change.high < 0 and change.significant


def test_two_sets_from_the_same_spread_are_not_significantly_different():
    change = relative_change([10.1, 9.8, 10.0, 10.2], [9.9, 10.0, 10.3, 9.9])
    assert change.low < 0 < change.high and not change.significant


def test_one_run_gives_an_unbounded_interval():
    change = relative_change([9.0], [10.0, 10.1, 9.9])
    assert change.change == pytest.approx(-0.1) and not change.significant
    assert not change.bounded and change.to_dict()["high"] is None


def test_relative_interval_is_the_half_width_over_the_mean():
    stat = summarize([9.0, 10.0, 11.0])
    assert stat.relative_ci == pytest.approx(stat.ci95 / 10.0)
