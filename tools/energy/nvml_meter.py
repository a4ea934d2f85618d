"""GPU energy from NVML: the hardware energy counter for totals, instant power for the profile.

On Hopper the counter and the instant-power field both update about every 100 ms, and
nvmlDeviceGetPowerUsage is a 1 s moving average that lags load changes, so it is not used. After any
activity the GPU idles at ~122 W for ~1.5 s before settling to its deep idle (~77 W on an H200):

- the baseline is deep idle, taken only once the GPU has been quiet, and checked again for drift
  at the start of each candidate's measurement whenever the GPU is quiet then;
- each repeat starts once the post-run tail is over, so every repeat starts at deep-idle power
  (on an H200 this halved the spread of back-to-back repeats) at a cost of ~1.5 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tools.energy.gpu_lock import gpu_lock
from tools.energy.measurement import Reading, Window
from tools.gpu import Gpu, handle_for, nvml, only_gpu_env

IDLE_CACHE_S = 300.0  # a baseline older than this is measured again from scratch
QUIET_BEFORE_IDLE_S = 3.0  # the ~122 W tail lasts ~1.5 s after activity: sample deep idle only after this
SETTLE_LIMIT_S = 10.0  # give up waiting for deep idle after this long and use what was seen
SETTLE_WINDOW_S = 1.0
SETTLE_RANGE_W = 4.0
DRIFT_WINDOW_S = 0.5  # a quick look at a quiet GPU, to see whether the baseline still holds
DRIFT_LIMIT_W = 2.0  # a quiet GPU further than this from the baseline gets a new baseline
TAIL_MARGIN_W = 15.0  # the tail is over once power is within this of the baseline
TAIL_LIMIT_S = 4.0


class NvmlMeter:
    method = "nvml"
    objective = "net_energy_j"

    def __init__(self, gpu: Gpu):
        self.gpu, self.lib, self.handle = gpu, nvml(), handle_for(gpu)
        self.period = self._detect_update_period()
        self._idle: tuple[float, float] | None = None  # (watts, when measured)
        self._idle_history: list[dict] = []  # every baseline taken, with how it was taken
        self._last_activity = time.monotonic()  # unknown history counts as activity just now

    def child_env(self) -> dict[str, str]:
        """The child sees only the measured GPU, whatever order CUDA would give it."""
        return only_gpu_env(self.gpu)

    def device(self) -> dict:
        return {**self.gpu.to_dict(), "update_period_s": round(self.period, 4), "idle_baselines": self._idle_history[-3:]}

    # ---- readings -----------------------------------------------------------------------------
    def energy_j(self) -> float:
        return self.lib.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1000.0

    def instant_power_w(self) -> float:
        field = self.lib.nvmlDeviceGetFieldValues(self.handle, [self.lib.NVML_FI_DEV_POWER_INSTANT])[0]
        if field.nvmlReturn != 0:
            return self.lib.nvmlDeviceGetPowerUsage(self.handle) / 1000.0
        return _field_value(field) / 1000.0

    def device_state(self) -> dict:
        lib, h = self.lib, self.handle
        return {"sm_clock_mhz": lib.nvmlDeviceGetClockInfo(h, lib.NVML_CLOCK_SM),
                "mem_clock_mhz": lib.nvmlDeviceGetClockInfo(h, lib.NVML_CLOCK_MEM),
                "temperature_c": lib.nvmlDeviceGetTemperature(h, lib.NVML_TEMPERATURE_GPU),
                "power_limit_w": lib.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0}

    # ---- protocol -----------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[None]:
        """One candidate's repeats: the GPU to ourselves, and a baseline known to hold."""
        with gpu_lock(self.gpu.uuid):
            self._check_idle()
            yield

    def _check_idle(self) -> None:
        """Measure deep idle if the baseline is missing or old; else, on a quiet GPU, look for drift."""
        if not self._idle or time.monotonic() - self._idle[1] > IDLE_CACHE_S:
            self._take_idle("settled deep idle")
            return
        if time.monotonic() - self._last_activity < QUIET_BEFORE_IDLE_S:
            return
        window = self._sample(DRIFT_WINDOW_S)
        level = sum(window) / len(window)
        if abs(level - self._idle[0]) > DRIFT_LIMIT_W and max(window) - min(window) <= SETTLE_RANGE_W:
            # A level the meter cannot explain may be the tail of work it did not see (another
            # process, the validation's own runs): flat for a second, but not idle. Count it as
            # activity just now, so the new baseline is taken only after a full quiet period.
            self._last_activity = time.monotonic()
            self._take_idle(f"drifted from {self._idle[0]:.1f} W")

    def _take_idle(self, why: str) -> None:
        samples: list[float] = []
        start = time.monotonic()
        per_window = max(2, round(SETTLE_WINDOW_S / self.period))
        while True:
            samples.append(self.instant_power_w())
            window = samples[-per_window:]
            quiet = time.monotonic() - self._last_activity >= QUIET_BEFORE_IDLE_S
            settled = quiet and len(window) == per_window and max(window) - min(window) <= SETTLE_RANGE_W
            if settled or time.monotonic() - start > SETTLE_LIMIT_S:
                break
            time.sleep(self.period)
        watts = sum(window) / len(window)
        self._idle = (watts, time.monotonic())
        self._idle_history.append({"watts": round(watts, 2), "why": why if settled else f"{why} (not settled within {SETTLE_LIMIT_S:g} s)",
                                   "at": time.strftime("%Y-%m-%dT%H:%M:%S")})

    def _sample(self, seconds: float) -> list[float]:
        samples = []
        for _ in range(max(2, round(seconds / self.period))):
            samples.append(self.instant_power_w())
            time.sleep(self.period)
        return samples

    def _wait_for_tail(self) -> None:
        """Start each repeat from the same state: after the previous run's clocked-up tail has ended."""
        if time.monotonic() - self._last_activity >= QUIET_BEFORE_IDLE_S:
            return
        deadline = time.monotonic() + TAIL_LIMIT_S
        while self.instant_power_w() > self._idle[0] + TAIL_MARGIN_W and time.monotonic() < deadline:
            time.sleep(self.period / 2)

    @contextmanager
    def window(self) -> Iterator[Window]:
        """The block runs between two ticks of the energy counter, with instant power sampled throughout."""
        if not self._idle:
            self._check_idle()
        self._wait_for_tail()
        idle = self._idle[0]
        before = self.device_state()
        sampler, metered = _PowerSampler(self.instant_power_w, self.period), Window()
        try:
            e0, t0 = self._next_counter_update()
            run_start = time.perf_counter()
            yield metered
            run_end = time.perf_counter()
            e1, t1 = self._next_counter_update()
        finally:
            raw = sampler.stop()
            self._last_activity = time.monotonic()
        seconds = metered.duration(run_end - run_start)
        samples = [(round(t - run_start, 4), w) for t, w in raw]
        # Stored figures are rounded first and derived from the rounded values, so they add up exactly.
        window, gross, idle = round(t1 - t0, 4), round(e1 - e0, 3), round(idle, 3)
        in_run = [w for t, w in samples if 0 <= t <= seconds]
        in_window = [w for t, w in samples if t0 - run_start <= t <= t1 - run_start]
        metered.reading = Reading(
            duration_s=seconds, window_s=window, gross_energy_j=gross, idle_power_w=idle,
            net_energy_j=round(gross - idle * window, 3), avg_power_w=round(gross / window, 2) if window > 0 else None,
            eq1_energy_j=round(self.period * sum(max(w - idle, 0.0) for w in in_run), 3),
            profile_energy_j=round(window * sum(in_window) / len(in_window), 3) if in_window else None,
            device_state={"before": before, "after": self.device_state()}, samples=samples)

    def _next_counter_update(self, limit_s: float = 1.0) -> tuple[float, float]:
        """Wait for the energy counter to tick, so a window starts and ends on fresh values."""
        first = self.energy_j()
        deadline = time.perf_counter() + limit_s
        while time.perf_counter() < deadline:
            value = self.energy_j()
            if value != first:
                return value, time.perf_counter()
            time.sleep(0.002)
        return first, time.perf_counter()

    def _detect_update_period(self) -> float:
        """Seconds between energy-counter updates (about 0.1 s on Hopper), from a few ticks."""
        ticks = [self._next_counter_update()[1] for _ in range(4)]
        gaps = sorted(b - a for a, b in zip(ticks, ticks[1:]))
        period = gaps[len(gaps) // 2]
        return min(max(period, 0.01), 0.5)


class _PowerSampler:
    """Background thread taking (time, watts) samples at the meter's update period."""

    def __init__(self, read, period: float):
        self.read, self.period = read, period
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.read()))
            next_at += self.period
            self._stop.wait(max(0.0, next_at - time.perf_counter()))

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        self._thread.join()
        return self.samples


def _field_value(field) -> float:
    kinds = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}
    return float(getattr(field.value, kinds.get(field.valueType, "uiVal")))
