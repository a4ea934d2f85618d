"""Exact t quantiles and ratio-of-means intervals that cannot pass −100%, however the data try."""

from __future__ import annotations

import math
import random

import pytest

from tools.energy.stats import paired_ratio, ratio_of_means, relative_change, t95, t_cdf, t_quantile

# Student-t quantiles from the standard tables; the fractional one is checked against a numerical
# integration of the density (2,000,001-point trapezoid: P(T <= 3.57465) = 0.975 at 2.5 dof).
REFERENCE = [(0.975, 1, 12.7062), (0.975, 2, 4.3027), (0.975, 3, 3.1824), (0.975, 5, 2.5706), (0.975, 10, 2.2281),
             (0.975, 30, 2.0423), (0.975, 31, 2.0395), (0.975, 120, 1.9799), (0.975, 1000, 1.9623),
             (0.95, 5, 2.0150), (0.99, 3, 4.5407), (0.995, 7, 3.4995), (0.975, 2.5, 3.5747)]


@pytest.mark.parametrize("p, dof, expected", REFERENCE)
def test_t_quantiles_match_the_tables_to_a_thousandth(p, dof, expected):
    assert t_quantile(p, dof) == pytest.approx(expected, abs=1e-3)


def test_fractional_degrees_of_freedom_fall_between_their_neighbours_without_a_jump():
    assert t95(4) > t95(4.5) > t95(5)
    assert t95(30) - t95(31) < 0.01  # the old table jumped from 2.042 to 1.96 here


def test_the_quantile_inverts_the_cdf_and_is_symmetric():
    for dof in (0.7, 3.3, 17.0):
        for p in (0.6, 0.9, 0.999):
            assert t_cdf(t_quantile(p, dof), dof) == pytest.approx(p, abs=1e-9)
            assert t_quantile(1 - p, dof) == pytest.approx(-t_quantile(p, dof))


def test_a_large_saving_on_noisy_runs_keeps_its_interval_above_minus_100_percent():
    change = relative_change([5.5, 0.2, 11.0], [100.0, 103.0, 97.0])  # the demo's −94.5% case, and noisier
    assert -1 < change.low < change.change < change.high < 0


@pytest.mark.parametrize("new, old", [([1.0, 2.0], [1000.0, 1.0]), ([0.001, 50.0, 0.001], [10.0, 10.0, 10.0]),
                                      ([1e-9, 1e-9], [1e9, 1e9 + 1]), ([3.0], [4.0, 5.0])])
def test_tiny_samples_and_huge_spreads_never_give_a_bound_below_minus_100_percent(new, old):
    for ratio in (ratio_of_means(new, old), paired_ratio(new[:1] * len(old), old)):
        change = ratio.change()
        assert change.low >= -1 and change.low <= change.change <= change.high
        assert ratio.upper(0.001) >= -1


def test_random_data_never_break_the_floor():
    rng = random.Random(7)
    for _ in range(2000):
        n = rng.randint(1, 5)
        new = [rng.lognormvariate(0, 3) for _ in range(n)]
        old = [rng.lognormvariate(0, 3) for _ in range(n)]
        for ratio in (ratio_of_means(new, old), paired_ratio(new, old)):
            change = ratio.change(0.999)
            assert -1 <= change.low <= change.change <= change.high


@pytest.mark.parametrize("new, old", [([0.0, 0.0, 0.0], [10.0, 10.0, 10.0]), ([-1.0, -2.0, -1.5], [10.0, 11.0, 9.0]),
                                      ([5.0, 5.0], [0.0, 0.0]), ([1.0, -1.0], [2.0, 3.0])])
def test_a_mean_at_or_below_zero_gives_no_ratio_rather_than_a_figure_past_minus_100_percent(new, old):
    assert ratio_of_means(new, old) is None and paired_ratio(new, old) is None and relative_change(new, old) is None


def test_pairing_cancels_a_drift_both_programs_shared():
    levels = [1.0, 1.2, 0.9, 1.1]  # the machine's pace in each pair's window
    new, old = [9.0 * lv for lv in levels], [10.0 * lv for lv in levels]
    paired, unpaired = paired_ratio(new, old).change(), ratio_of_means(new, old).change()
    assert paired.change == pytest.approx(-0.1) and paired.high - paired.low < 1e-9
    assert unpaired.low < -0.1 < unpaired.high and unpaired.high > 0  # the same runs, taken apart: no verdict


def test_the_ratio_interval_agrees_with_the_log_scale_by_construction():
    ratio = ratio_of_means([9.0, 9.1, 8.9], [10.0, 10.2, 9.8])
    change = ratio.change()
    assert math.log1p(change.low) + math.log1p(change.high) == pytest.approx(2 * ratio.log)
    assert ratio.upper(0.025) == pytest.approx(change.high)


def test_pairs_must_pair_up():
    with pytest.raises(ValueError, match="do not pair up"):
        paired_ratio([1.0, 2.0], [1.0])
