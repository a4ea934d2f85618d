"""The paper's measurement harness, rebuilt to compare against: kept apart from the tool's meter.

As the paper describes it: power polled every 10 ms with nvmlDeviceGetPowerUsage (on Hopper a 1 s
moving average that changes every ~100 ms), an idle level from samples before the run and from a
15 s window after it, and net energy as Equation 1 — the sum of idle-subtracted, clamped samples
inside the run window times 10 ms. The waits before and after each run are what make the harness
slow; they are parameters so their cost can be shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

POLL_S = 0.01


@dataclass
class PaperReading:
    net_energy_j: float
    idle_power_w: float
    duration_s: float
    wall_s: float  # the harness's time for this run, waits included


def paper_measure(read_power_w: Callable[[], float], run: Callable[[], tuple[float, float]],
                  wait_before_s: float = 15.0, idle_before_s: float = 1.0, after_s: float = 15.0) -> PaperReading:
    """Measure one call of `run` the paper's way; `run` returns the program's own start and end
    (time.perf_counter), so another meter may wrap the same run without widening its window."""
    start = time.perf_counter()
    time.sleep(wait_before_s)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter(), read_power_w()))
            stop.wait(POLL_S)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    time.sleep(idle_before_s)
    run_start, run_end = run()
    time.sleep(after_s)
    stop.set()
    poller.join()
    idle = [w for t, w in samples if t < run_start or t > run_end]
    idle_w = sum(idle) / len(idle)
    in_run = [w for t, w in samples if run_start <= t <= run_end]
    return PaperReading(net_energy_j=POLL_S * sum(max(w - idle_w, 0.0) for w in in_run), idle_power_w=idle_w,
                        duration_s=run_end - run_start, wall_s=time.perf_counter() - start)
