"""What one measured run yields, and a candidate's repeated measurement."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from tools.energy.stats import Stat, summarize
from tools.executor import RunResult

METRICS = ("duration_s", "gross_energy_j", "net_energy_j", "avg_power_w", "eq1_energy_j")


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
    device_state: dict = field(default_factory=dict)  # clocks, temperature, power limit
    samples: list[tuple[float, float]] = field(default_factory=list)  # (s from run start, W)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("samples")
        return data


@dataclass
class Measurement:
    method: str  # "nvml", "rapl" or "time"
    objective: str  # the metric candidates are compared on
    device: dict
    readings: list[Reading]

    def stat(self, metric: str) -> Stat | None:
        values = [getattr(r, metric) for r in self.readings]
        return summarize(values) if values and all(v is not None for v in values) else None

    def summary(self) -> dict:
        """JSON-able: method, objective, device, per-metric statistics and per-repeat values."""
        stats = {m: s.to_dict() for m in METRICS if (s := self.stat(m))}
        return {"method": self.method, "objective": self.objective, "device": self.device,
                "repeats": len(self.readings), "stats": stats,
                "readings": [r.to_dict() for r in self.readings]}

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


def measure(meter, run: Callable[[], RunResult], repeats: int) -> tuple[RunResult, Measurement | None]:
    """Run `repeats` times under the meter; stop at the first failed run (its result is returned)."""
    readings: list[Reading] = []
    result: RunResult | None = None
    for _ in range(max(1, repeats)):
        result, reading = meter.measure(run)
        if not result.ok:
            return result, None
        readings.append(reading)
    return result, Measurement(method=meter.method, objective=meter.objective, device=meter.device(),
                               readings=readings)
