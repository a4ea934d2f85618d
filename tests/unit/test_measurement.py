"""Repeated measurement: when repeating stops, what a measurement records, the GPU lock, the plots."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tools.energy.gpu_lock import gpu_lock
from tools.energy.measurement import Reading, RepeatPolicy, Window, measure, spread_sources
from tools.energy.nvml_meter import NvmlMeter
from tools.report.plots import plot_overlay, plot_profile, read_trace, typical_repeat
from tools.sandbox.runner import RunResult


class ScriptedMeter:
    """A meter whose readings are given in advance: the objective of run i is values[i]; run `fail_at` fails."""

    method, objective = "test", "net_energy_j"

    def __init__(self, values: list[float], fail_at: int | None = None, seconds: float = 0.0):
        self.values, self.fail_at, self.seconds, self.runs = values, fail_at, seconds, 0

    def run(self) -> RunResult:
        time.sleep(self.seconds)
        return RunResult(exit_code=1 if self.runs == self.fail_at else 0, stdout="", stderr="", seconds=1.0)

    @contextmanager
    def window(self):
        window = Window()
        yield window
        window.reading = Reading(duration_s=window.seconds, net_energy_j=self.values[self.runs])
        self.runs += 1

    def device(self) -> dict:
        return {"name": "scripted"}

    def session(self):
        return nullcontext()


def scripted(meter: ScriptedMeter, policy: RepeatPolicy):
    return measure(meter, meter.run, policy)


def test_repeating_stops_at_the_minimum_once_the_interval_is_tight():
    meter = ScriptedMeter([100.0, 100.2, 99.9, 150.0])
    _, m = scripted(meter, RepeatPolicy(min_repeats=3, max_repeats=10, target_ci=0.02))
    assert len(m.readings) == 3 and "within the ±2.0%" in m.stop_reason


def test_a_noisy_candidate_is_repeated_until_the_interval_is_tight():
    values = [100.0, 110.0, 95.0, 104.0, 101.0, 99.0, 100.0, 102.0, 98.0, 101.0]
    _, m = scripted(ScriptedMeter(values), RepeatPolicy(min_repeats=3, max_repeats=10, target_ci=0.02))
    assert 3 < len(m.readings) <= 10
    stat = m.stat("net_energy_j")
    assert stat.relative_ci <= 0.02 or len(m.readings) == 10


def test_repeating_stops_at_the_maximum_when_the_interval_stays_wide():
    _, m = scripted(ScriptedMeter([100.0, 130.0] * 5), RepeatPolicy(min_repeats=3, max_repeats=5))
    assert len(m.readings) == 5 and "most allowed" in m.stop_reason


def test_repeating_stops_when_the_time_budget_is_spent():
    meter = ScriptedMeter([100.0, 130.0] * 5, seconds=0.05)
    _, m = scripted(meter, RepeatPolicy(min_repeats=2, max_repeats=10, budget_s=0.12))
    assert len(m.readings) in (2, 3) and "time budget" in m.stop_reason  # 3 runs take at least 0.15 s; 2 may, if slow


def test_a_failed_run_ends_the_measurement_without_figures():
    result, m = scripted(ScriptedMeter([100.0] * 5, fail_at=1), RepeatPolicy())
    assert m is None and result.exit_code == 1


def test_the_summary_keeps_every_run_the_interval_and_the_cost_of_measuring():
    _, m = scripted(ScriptedMeter([100.0, 101.0, 99.0]), RepeatPolicy(target_ci=0.05))
    summary = m.summary()
    assert [r["net_energy_j"] for r in summary["readings"]] == [100.0, 101.0, 99.0]
    assert summary["stats"]["net_energy_j"]["ci95"] == pytest.approx(4.303 / 3 ** 0.5)
    assert summary["repeats"] == 3 and summary["stop_reason"] and summary["overhead_per_repeat_s"] < 0


def summary_of(runs: list[tuple[float, float]]) -> dict:
    """A measurement summary from (runtime s, net power W) pairs."""
    return {"readings": [{"duration_s": t, "net_energy_j": t * w} for t, w in runs]}


def test_a_spread_that_follows_the_runtime_is_put_down_to_the_programs_pace():
    text = spread_sources(summary_of([(5.0, 120.0), (5.5, 120.2), (4.6, 119.9), (5.2, 120.1)]))
    assert text.startswith("net energy varies 7.")
    assert "runtime 7." in text and "net power 0.1%" in text
    assert "the program's own pace" in text


def test_a_spread_that_follows_the_power_is_put_down_to_the_gpu():
    text = spread_sources(summary_of([(5.0, 120.0), (5.01, 130.0), (4.99, 110.0)]))
    assert "net power 8.3%" in text and "its power draw" in text


def test_the_spread_is_not_explained_from_fewer_than_three_runs_or_without_energies():
    assert spread_sources(summary_of([(5.0, 120.0), (5.5, 120.0)])) == ""
    assert spread_sources({"readings": [{"duration_s": 1.0, "net_energy_j": None}] * 3}) == ""


class TailAfterUnseenWork(NvmlMeter):
    """An NVML meter on a GPU that another process just left: 124 W for 1.5 s, then 78 W deep idle."""

    def __init__(self):
        now = time.monotonic()
        self.period, self._idle, self._idle_history = 0.1, (78.0, now), []
        self._last_activity = now - 60  # the meter's own last run is long over
        self.tail_ends = now + 1.5

    def instant_power_w(self) -> float:
        return 124.0 if time.monotonic() < self.tail_ends else 78.0


def test_a_tail_left_by_work_the_meter_did_not_see_is_waited_out_not_taken_for_idle():
    meter = TailAfterUnseenWork()
    meter._check_idle()
    assert meter._idle[0] == 78.0
    assert meter._idle_history[-1]["why"] == "drifted from 78.0 W"


def test_a_second_run_waits_for_the_gpu_a_first_run_is_measuring_on(tmp_path, monkeypatch):
    monkeypatch.setenv("LASSI_LOCK_DIR", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, '.');"
        "from tools.energy.gpu_lock import gpu_lock\n"
        "with gpu_lock('GPU-test'):\n    print('held', flush=True); time.sleep(1.0)")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    start = time.monotonic()
    with gpu_lock("GPU-test"):
        waited = time.monotonic() - start
    holder.wait()
    assert waited > 0.5


def test_locks_of_different_gpus_do_not_wait_for_each_other(tmp_path, monkeypatch):
    monkeypatch.setenv("LASSI_LOCK_DIR", str(tmp_path))
    with gpu_lock("GPU-a"):
        start = time.monotonic()
        with gpu_lock("GPU-b"):
            assert time.monotonic() - start < 0.2


def write_trace(path: Path, repeats: int) -> dict:
    """A fake power.csv (idle 80 W, 300 W during a 1 s run) and its measurement summary."""
    rows = ["repeat,seconds,watts"]
    readings = []
    for r in range(repeats):
        for i in range(-3, 16):
            t = i / 10
            rows.append(f"{r},{t},{300.0 + r if 0 <= t <= 1.0 else 80.0}")
        readings.append({"duration_s": 1.0, "idle_power_w": 80.0, "net_energy_j": 220.0 + r})
    path.write_text("\n".join(rows) + "\n")
    return {"objective": "net_energy_j", "readings": readings}


def test_a_power_profile_is_drawn_from_the_trace_file(tmp_path):
    measurement = write_trace(tmp_path / "power.csv", repeats=3)
    assert sorted(read_trace(tmp_path / "power.csv")) == [0, 1, 2] and typical_repeat(measurement) == 1
    png = plot_profile(tmp_path / "power.csv", measurement, tmp_path / "power.png", "test profile")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_source_and_best_are_drawn_on_one_axis(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    a = write_trace(tmp_path / "a" / "power.csv", 3)
    b = write_trace(tmp_path / "b" / "power.csv", 2)
    png = plot_overlay([("source", tmp_path / "a" / "power.csv", a), ("best", tmp_path / "b" / "power.csv", b)],
                       tmp_path / "overlay.png", "overlay")
    assert png.read_bytes()[:4] == b"\x89PNG"


class SteadyGpu(NvmlMeter):
    """An NVML meter on a GPU drawing a steady 100 W with a 50 W baseline; its counter moves on every read."""

    def __init__(self):
        now = time.monotonic()
        self.period, self._idle, self._idle_history, self._last_activity = 0.01, (50.0, now), [], now - 60
        self.reads = 0

    def energy_j(self) -> float:
        self.reads += 1
        return 10.0 * self.reads

    def instant_power_w(self) -> float:
        return 100.0

    def device_state(self) -> dict:
        return {}


def test_the_gpu_meter_meters_a_block_between_counter_ticks_and_subtracts_the_baseline():
    meter = SteadyGpu()
    with meter.window() as window:
        time.sleep(0.05)
        window.seconds = 0.04  # the work's own duration, as a runner would tell it
    reading = window.reading
    assert reading.duration_s == 0.04 and reading.idle_power_w == 50.0 and reading.window_s >= 0.05
    assert reading.gross_energy_j == 20.0  # from the tick before the block (20 J) to the tick after it (40 J)
    assert reading.net_energy_j == round(20.0 - 50.0 * reading.window_s, 3)


def test_a_failing_block_under_the_gpu_meter_leaves_no_reading_and_no_sampler_running():
    import threading

    before = threading.active_count()
    with pytest.raises(ValueError), SteadyGpu().window() as window:
        raise ValueError("the work failed")
    assert window.reading is None and threading.active_count() == before
