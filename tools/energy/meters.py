"""The meter interface, the host meters (RAPL, time only) and the choice between them.

A meter meters a block of code: `with meter.window() as w:` leaves a Reading in `w.reading` (see
tools/energy/measurement.py). Each meter says what it measures (`method`) and which figure candidates
are compared on (`objective`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import Protocol

from tools.energy.measurement import Reading, Window
from tools.errors import LassiError

RAPL_ROOT = Path("/sys/class/powercap")


class Meter(Protocol):
    method: str
    objective: str

    def window(self) -> AbstractContextManager[Window]:
        """Meters the block it wraps; the block's Reading is in the window once the block ends."""

    def device(self) -> dict: ...

    def child_env(self) -> dict[str, str]: ...

    def session(self) -> AbstractContextManager:
        """Wraps one candidate's repeats (the NVML meter holds its GPU's lock for them)."""


class _HostMeter:
    """What the host meters share: nothing to hold between repeats, nothing to tell the child."""

    def session(self) -> AbstractContextManager:
        return nullcontext()

    def child_env(self) -> dict[str, str]:
        return {}


class TimeMeter(_HostMeter):
    """Wall time only: for machines that expose no energy counter. Candidates compete on runtime."""

    method = "time"
    objective = "duration_s"

    @contextmanager
    def window(self) -> Iterator[Window]:
        window, start = Window(), time.perf_counter()
        yield window
        window.reading = Reading(duration_s=window.duration(time.perf_counter() - start))

    def device(self) -> dict:
        return {"name": "host (no readable energy counter)"}


class RaplMeter(_HostMeter):
    """CPU package energy from the Linux powercap (RAPL) counters, where they are readable."""

    method = "rapl"
    objective = "gross_energy_j"

    def __init__(self, domains: list[Path]):
        self.domains = domains

    @classmethod
    def available(cls) -> "RaplMeter | None":
        domains = sorted(p for p in RAPL_ROOT.glob("intel-rapl:*") if p.name.count(":") == 1)
        try:
            if domains and all(int((d / "energy_uj").read_text()) >= 0 for d in domains):
                return cls(domains)
        except (OSError, ValueError):
            pass
        return None

    def _read(self) -> list[int]:
        return [int((d / "energy_uj").read_text()) for d in self.domains]

    @contextmanager
    def window(self) -> Iterator[Window]:
        window, before, start = Window(), self._read(), time.perf_counter()
        yield window
        after, seconds = self._read(), window.duration(time.perf_counter() - start)
        joules = 0.0
        for domain, a, b in zip(self.domains, before, after):
            wrap = int((domain / "max_energy_range_uj").read_text())
            joules += ((b - a) % (wrap + 1)) / 1e6
        window.reading = Reading(duration_s=seconds, window_s=seconds, gross_energy_j=round(joules, 3),
                                 avg_power_w=round(joules / seconds, 2) if seconds else None)

    def device(self) -> dict:
        return {"name": "CPU packages (RAPL)", "domains": [d.name for d in self.domains]}


@cache
def choose_meter(language: str, gpu: str | None = None) -> Meter:
    """NVML on the chosen GPU for CUDA; RAPL for C++ where readable, else time only.

    One meter per process and GPU, so its detected update period and idle baseline are reused.
    """
    if language == "cuda":
        from tools.energy.nvml_meter import NvmlMeter
        from tools.gpu import find_gpu

        return NvmlMeter(find_gpu(gpu))
    check_meter_choice(language, gpu)
    return RaplMeter.available() or TimeMeter()


def check_meter_choice(language: str, gpu: str | None) -> None:
    """A GPU is chosen for CUDA programs only: a C++ program runs, and is measured, on the CPU."""
    if language != "cuda" and gpu is not None:
        raise LassiError("{setting} applies to CUDA programs only; this program is C++ and runs on the CPU",
                         setting="gpu")

