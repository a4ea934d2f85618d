"""Host meters: RAPL package energy where the counters are readable (with wraparound), else time; both meter
any block of code, and a run of anything that says how long it took and whether it succeeded."""

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.energy import RepeatPolicy, measure, meters
from tools.energy.meters import RaplMeter, TimeMeter, choose_meter


def fake_rapl(root: Path, packages: dict[str, tuple[int, int]]) -> None:
    """packages: name -> (energy_uj, max_energy_range_uj); a sub-domain is added to show it is ignored."""
    for name, (energy, wrap) in packages.items():
        (root / name).mkdir(parents=True)
        (root / name / "energy_uj").write_text(f"{energy}\n")
        (root / name / "max_energy_range_uj").write_text(f"{wrap}\n")
    (root / "intel-rapl:0:0").mkdir()
    (root / "intel-rapl:0:0" / "energy_uj").write_text("5\n")


def test_rapl_sums_package_energy_across_a_counter_wraparound(tmp_path, monkeypatch):
    fake_rapl(tmp_path, {"intel-rapl:0": (999_000_000, 1_000_000_000), "intel-rapl:1": (10_000_000, 1_000_000_000)})
    monkeypatch.setattr(meters, "RAPL_ROOT", tmp_path)
    meter = RaplMeter.available()
    assert meter is not None and [d.name for d in meter.domains] == ["intel-rapl:0", "intel-rapl:1"]

    with meter.window() as window:  # package 0 wraps past its range; package 1 counts 20 J
        (tmp_path / "intel-rapl:0" / "energy_uj").write_text("4000000\n")
        (tmp_path / "intel-rapl:1" / "energy_uj").write_text("30000000\n")
        window.seconds = 2.0  # the work's own duration, as a runner would tell it
    reading = window.reading
    assert reading.gross_energy_j == 25.0 and reading.avg_power_w == 12.5  # 5 J across the wrap + 20 J
    assert meter.objective == "gross_energy_j"


def test_without_readable_counters_cpu_programs_are_timed(tmp_path, monkeypatch):
    monkeypatch.setattr(meters, "RAPL_ROOT", tmp_path / "absent")
    choose_meter.cache_clear()
    try:
        meter = choose_meter("cpp")
        assert isinstance(meter, TimeMeter) and meter.objective == "duration_s"
    finally:
        choose_meter.cache_clear()


def test_a_block_that_tells_no_duration_is_metered_by_its_wall_time(tmp_path, monkeypatch):
    fake_rapl(tmp_path, {"intel-rapl:0": (1_000_000, 1_000_000_000)})
    monkeypatch.setattr(meters, "RAPL_ROOT", tmp_path)
    with TimeMeter().window() as timed:
        time.sleep(0.05)
    with RaplMeter.available().window() as rapl:
        time.sleep(0.05)
        (tmp_path / "intel-rapl:0" / "energy_uj").write_text("4000000\n")
    assert timed.reading.duration_s >= 0.05 and rapl.reading.duration_s >= 0.05  # a sleep lasts at least this
    assert rapl.reading.gross_energy_j == 3.0 and rapl.reading.window_s == rapl.reading.duration_s


def test_a_block_that_fails_leaves_no_reading_and_its_error_passes_through():
    with pytest.raises(ValueError, match="the work failed"), TimeMeter().window() as window:
        raise ValueError("the work failed")
    assert window.reading is None


@dataclass
class Finished:
    """A finished run that is not the process runner's: the meters ask only for `ok` and `seconds`."""

    ok: bool
    seconds: float


def test_any_finished_run_is_measured_not_only_the_runners():
    runs = iter([Finished(True, 0.5), Finished(True, 0.7), Finished(False, 0.1)])
    result, measured = measure(TimeMeter(), lambda: next(runs), RepeatPolicy(min_repeats=2, max_repeats=2))
    assert [r.duration_s for r in measured.readings] == [0.5, 0.7] and result.seconds == 0.7
    result, measured = measure(TimeMeter(), lambda: next(runs), RepeatPolicy(min_repeats=2, max_repeats=2))
    assert measured is None and result == Finished(False, 0.1)
