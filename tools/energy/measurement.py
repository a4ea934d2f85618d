"""What one metered block yields, a candidate's repeated measurement, and when to stop repeating.

A meter meters any block of code through its window, as a notebook or benchmark would:

    with meter.window() as window:
        work()
    window.reading  # a Reading: duration, and energies where the meter sees them

A program's run is one such block (`metered`); `measure` repeats it under the meter's session, and
`measure_pairs` runs two programs alternately (new, old, new, old, …) in one time window, so that
whatever the machine does meanwhile falls on both alike.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from tools.energy.host import host_rapl
from tools.energy.metrics import METRICS
from tools.energy.stats import Stat, summarize


@dataclass
class Reading:
    """One run. Energies are None where the meter cannot see them (a time-only meter)."""

    duration_s: float
    window_s: float | None = None  # the span the energy counter covered (run plus <1 update period)
    gross_energy_j: float | None = None
    idle_power_w: float | None = None
    net_energy_j: float | None = None
    avg_power_w: float | None = None
    eq1_energy_j: float | None = None  # the paper's Equation 1 over the instant-power samples
    profile_energy_j: float | None = None  # the instant-power samples integrated over the counter's window
    cpu_s: float | None = None  # the program's host CPU time, user + system
    host_energy_j: float | None = None  # CPU package energy over the run (RAPL), where readable
    dram_energy_j: float | None = None  # DRAM energy over the run (RAPL), where the machine has that domain
    device_state: dict = field(default_factory=dict)  # clocks, temperature, power limit
    samples: list[tuple[float, float]] = field(default_factory=list)  # (s from run start, W)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("samples")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Reading:
        """A reading written whole (`asdict`, samples included) and read back; other keys are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "samples": [tuple(s) for s in known.get("samples", [])]})


class FinishedRun(Protocol):
    """What measuring needs of a run that finished: whether it succeeded and how long it took itself."""

    seconds: float

    @property
    def ok(self) -> bool: ...


Run = TypeVar("Run", bound=FinishedRun)


@dataclass
class Window:
    """One metered block. Inside it, `seconds` may be set to the work's own duration (a program's runtime
    as its runner timed it); otherwise the block's wall time is taken. `reading` is set when the block ends."""

    seconds: float | None = None
    reading: Reading | None = None

    def duration(self, wall_s: float) -> float:
        """The work's own duration where the block told it, else the block's wall time."""
        return self.seconds if self.seconds is not None else round(wall_s, 6)


def metered(meter, run: Callable[[], Run]) -> tuple[Run, Reading]:
    """One run in a window of the meter: its result, and the reading timed by the run's own clock, with
    the run's host side: its CPU time, and package and DRAM energy where RAPL is readable."""
    rapl = host_rapl()
    with meter.window() as window:
        before = rapl.read() if rapl else None
        result = run()
        window.seconds = result.seconds
        joules = rapl.joules(before, rapl.read()) if rapl else None
    reading = window.reading
    reading.cpu_s = getattr(result, "cpu_s", None)
    if joules:
        reading.host_energy_j, reading.dram_energy_j = joules
    return result, reading


@dataclass(frozen=True)
class RepeatPolicy:
    """How many times to run a candidate: at least `min_repeats`, then until the interval of the
    objective is within `target_ci` of its mean, `max_repeats` is reached, or `budget_s` is spent."""

    min_repeats: int = 3
    max_repeats: int = 10
    target_ci: float = 0.02
    budget_s: float = 300.0

    def describe_repeat(self, k: int) -> str:
        """`repeat 2 of 3`, or `repeat 4 of at most 10` where the interval decides when to stop."""
        return f"repeat {k} of {self.max_repeats}" if self.min_repeats >= self.max_repeats else \
            f"repeat {k} of at most {self.max_repeats}"

    def stop_reason(self, stat: Stat | None, elapsed_s: float) -> str | None:
        n = stat.n if stat else 0
        if n < self.min_repeats:
            return None
        if stat and stat.relative_ci <= self.target_ci:
            return f"interval ±{stat.relative_ci:.2%} of the mean, within the ±{self.target_ci:.1%} asked for"
        if n >= self.max_repeats:
            return f"{self.max_repeats} repeats, the most allowed"
        if elapsed_s >= self.budget_s:
            return f"time budget of {self.budget_s:g} s spent"
        return None


@dataclass
class Measurement:
    method: str  # "nvml", "rapl" or "time"
    objective: str  # the metric candidates are compared on
    device: dict
    readings: list[Reading]
    stop_reason: str = ""
    wall_s: float = 0.0  # time spent measuring, waits included: what measuring cost beyond the runs
    comparison: dict | None = None  # a candidate's runs against the best's, measured alternately (decision.py)

    def stat(self, metric: str) -> Stat | None:
        values = self.values(metric)
        return summarize(values) if values and all(v is not None for v in values) else None

    def values(self, metric: str) -> list:
        return [getattr(r, metric) for r in self.readings]

    def summary(self) -> dict:
        """JSON-able: method, objective, device, per-metric statistics and per-repeat values."""
        stats = {m.name: s.to_dict() for m in METRICS if (s := self.stat(m.name))}
        runs = sum(r.duration_s for r in self.readings)
        return {"method": self.method, "objective": self.objective, "device": self.device,
                "repeats": len(self.readings), "stop_reason": self.stop_reason, "stats": stats,
                "wall_s": round(self.wall_s, 3), "overhead_per_repeat_s": round((self.wall_s - runs) / len(self.readings), 3),
                "readings": [r.to_dict() for r in self.readings],
                **({"comparison": self.comparison} if self.comparison else {})}

    def write_trace(self, path: Path) -> bool:
        """Write every repeat's power samples as CSV; False when the meter took none."""
        rows = [(i, t, w) for i, r in enumerate(self.readings) for t, w in r.samples]
        if not rows:
            return False
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["repeat", "seconds", "watts"])
            writer.writerows(rows)
        return True


def run_values(summary: dict, metric: str) -> list[float]:
    """A metric's value in every run of a measurement summary; [] where the meter did not read it."""
    values = [r.get(metric) for r in summary.get("readings", [])]
    return values if values and None not in values else []


def spread_sources(summary: dict) -> str:
    """Where a measurement's run-to-run spread of net energy comes from: runtime or power draw.

    Net energy is net power times runtime, so its spread is theirs combined. When the runtime
    carries it, the program itself ran at a different pace each time (host work, pageable copies,
    other load on the machine): a better meter cannot narrow that, only more repeats. '' for fewer
    than three runs or a meter without energies.
    """
    energy, runtime = run_values(summary, "net_energy_j"), run_values(summary, "duration_s")
    if len(energy) < 3 or len(runtime) != len(energy):
        return ""
    power = [e / t for e, t in zip(energy, runtime)]
    e_cv, t_cv, p_cv = (summarize(values).cv for values in (energy, runtime, power))
    cause = ("its runtime: the program's own pace changed between runs" if t_cv >= p_cv
             else "its power draw: clocks, temperature or other work on the GPU changed between runs")
    return (f"net energy varies {e_cv:.1%} between runs (runtime {t_cv:.1%}, net power {p_cv:.1%}); "
            f"most of it comes from {cause}")


def measure(meter, run: Callable[[], Run], policy: RepeatPolicy, kept: Sequence[Reading] = (),
            on_reading: Callable[[Reading], None] | None = None,
            on_repeat: Callable[[int], None] | None = None) -> tuple[Run, Measurement | None]:
    """Run under the meter until the policy is satisfied; stop at the first failed run (its result is returned).

    `kept`: repeats finished before the run was killed, counted again rather than run again (at least one
    new run is made, for its output); `on_reading` hears of each new repeat as it ends, to keep it;
    `on_repeat(k)` hears of each run as it starts (k from 1), for a progress display.
    """
    readings: list[Reading] = list(kept)
    start = time.perf_counter()
    with meter.session():
        while True:
            if on_repeat is not None:
                on_repeat(len(readings) + 1)
            result, reading = metered(meter, run)
            if not result.ok:
                return result, None
            readings.append(reading)
            if on_reading is not None:
                on_reading(reading)
            objective = [getattr(r, meter.objective) for r in readings]
            reason = policy.stop_reason(summarize(objective), time.perf_counter() - start)
            if reason:
                break
    return result, Measurement(method=meter.method, objective=meter.objective, device=meter.device(),
                               readings=readings, stop_reason=reason, wall_s=time.perf_counter() - start)


@dataclass
class Pairs:
    """Runs of two programs measured alternately: new[i] and old[i] are the i-th pair."""

    new: list[Reading]
    old: list[Reading]
    stop_reason: str = ""
    failed: FinishedRun | None = None  # the run that failed, where one did
    failed_side: str = ""  # "new" or "old"
    last_new: FinishedRun | None = None  # the new program's latest run: its output is the one judged
    wall_s: float = 0.0


def measure_pairs(meter, run_new: Callable[[], Run], run_old: Callable[[], Run],
                  stop: Callable[[Pairs, float], str | None], kept: Pairs | None = None,
                  on_pair: Callable[[Reading, Reading, float], None] | None = None) -> Pairs:
    """Run new, old, new, old, … under one meter session until `stop(pairs, elapsed_s)` gives a reason.

    A failed run ends the measurement, with its result and side recorded; its pair is left out.
    `kept`: pairs finished before a kill, counted again rather than run again, and the time they took
    (its `wall_s`) counted as elapsed; where they already settle it, no pair is run (and `last_new`
    stays None). `on_pair(new, old, elapsed_s)` hears of each new pair as it ends, to keep it.
    """
    pairs = Pairs(list(kept.new), list(kept.old)) if kept else Pairs([], [])
    start = time.perf_counter() - (kept.wall_s if kept else 0.0)
    if pairs.new and (reason := stop(pairs, time.perf_counter() - start)):
        pairs.stop_reason, pairs.wall_s = reason, time.perf_counter() - start
        return pairs
    with meter.session():
        while True:
            readings = []
            for side, run in (("new", run_new), ("old", run_old)):
                result, reading = metered(meter, run)
                if not result.ok:
                    pairs.failed, pairs.failed_side = result, side
                    pairs.wall_s = time.perf_counter() - start
                    return pairs
                readings.append(reading)
                if side == "new":
                    pairs.last_new = result
            pairs.new.append(readings[0])
            pairs.old.append(readings[1])
            if on_pair is not None:
                on_pair(readings[0], readings[1], time.perf_counter() - start)
            if reason := stop(pairs, time.perf_counter() - start):
                pairs.stop_reason, pairs.wall_s = reason, time.perf_counter() - start
                return pairs
