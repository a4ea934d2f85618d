"""The one table of what a measurement reports: each metric's name, label and unit.

Every report, prompt, progress line and plot reads its wording from here, so a metric is named the
same way everywhere it appears.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str  # the key in a reading and in a measurement's stats
    label: str  # lower-case words for a sentence
    unit: str
    shown: bool = True  # in the source-against-best table, prompts and progress lines

    @property
    def heading(self) -> str:
        """`Net GPU energy (J)`: a column or axis title."""
        return f"{self.label[0].upper()}{self.label[1:]} ({self.unit})"


METRICS = (
    Metric("net_energy_j", "net GPU energy", "J"),
    Metric("gross_energy_j", "gross energy", "J"),
    Metric("avg_power_w", "average power", "W"),
    Metric("duration_s", "runtime", "s"),
    Metric("cpu_s", "host CPU time", "s"),  # user + system of the program, whatever the meter
    Metric("host_energy_j", "CPU package energy", "J"),  # RAPL over the run, where readable
    Metric("dram_energy_j", "DRAM energy", "J"),
    Metric("eq1_energy_j", "energy by the paper's Equation 1", "J", shown=False),
    Metric("profile_energy_j", "energy integrated from the power samples", "J", shown=False),
)
BY_NAME = {m.name: m for m in METRICS}
SHOWN = tuple(m for m in METRICS if m.shown)

# What the objective is on each meter: the figure candidates are compared on.
OBJECTIVES = {"net_energy_j": "net GPU energy (J)", "gross_energy_j": "CPU package energy (J)",
              "duration_s": "runtime (s): this machine exposes no energy counter"}


def metric(name: str) -> Metric:
    """The metric named `name`; an unknown name is shown as itself, without a unit."""
    return BY_NAME.get(name) or Metric(name, name, "")


def describe_objective(objective: str) -> str:
    return OBJECTIVES[objective]


def with_interval(stat: dict, unit: str = "") -> str:
    """`12.3 J ± 0.4`: a summary's figure with the half-width of its 95% interval, where there is one."""
    ci = stat.get("ci95")
    figure = f"{stat['mean']:.4g}" + (f" {unit}" if unit else "")
    return figure + (f" ± {ci:.2g}" if ci is not None and math.isfinite(ci) else "")


def describe_measurement(measurement: dict | None) -> str:
    """One line of figures for prompts and progress: energy, power, runtime, with intervals."""
    if not measurement:
        return "not measured"
    stats = measurement["stats"]
    parts = [f"{m.label} {with_interval(stats[m.name], m.unit)}" for m in SHOWN if m.name in stats]
    n = measurement["repeats"]
    return ", ".join(parts) + f" ({n} run{'s' if n != 1 else ''}, measured by {measurement['method']})"
