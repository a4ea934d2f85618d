"""The host side of every measured run: the CPU packages' and DRAM energy from RAPL, where readable.

A CUDA program's GPU energy says nothing of the work it leaves on the CPU, so every run, whatever
the meter, also records the program's CPU time (from the process runner) and, where the powercap
counters are readable, package and DRAM energy over the run's window.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

RAPL_ROOT = Path("/sys/class/powercap")
ACCESS_HINT = ("RAPL energy counters exist but only root may read them; `sudo chmod a+r"
               " /sys/class/powercap/intel-rapl:*/energy_uj /sys/class/powercap/intel-rapl:*/*/energy_uj`"
               " grants read access until the next boot")


@dataclass(frozen=True)
class Rapl:
    """The package domains (top-level `intel-rapl:N`) and the DRAM domains (named `dram`) of the machine."""

    packages: tuple[Path, ...]
    dram: tuple[Path, ...] = ()

    @classmethod
    def found(cls, root: Path | None = None) -> Rapl | None:
        """The counters, where they exist and can be read; None otherwise."""
        root = root or RAPL_ROOT
        packages = tuple(sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1))
        dram = tuple(sorted(p for p in root.glob("intel-rapl:*") if _name(p) == "dram"))
        rapl = cls(packages, dram)
        try:
            if packages and all(v >= 0 for v in rapl.read()):
                return rapl
        except (OSError, ValueError):
            pass
        return None

    def read(self) -> list[int]:
        return [int((d / "energy_uj").read_text()) for d in (*self.packages, *self.dram)]

    def joules(self, before: list[int], after: list[int]) -> tuple[float, float | None]:
        """Package and DRAM energy between two readings, across counter wraparounds (None: no DRAM domain)."""
        spent = []
        for domain, a, b in zip((*self.packages, *self.dram), before, after):
            wrap = int((domain / "max_energy_range_uj").read_text())
            spent.append(((b - a) % (wrap + 1)) / 1e6)
        package = round(sum(spent[:len(self.packages)]), 3)
        return package, round(sum(spent[len(self.packages):]), 3) if self.dram else None


def _name(domain: Path) -> str:
    try:
        return (domain / "name").read_text().strip()
    except OSError:
        return ""


@cache
def host_rapl() -> Rapl | None:
    """The machine's readable counters, looked up once per process."""
    return Rapl.found()


def rapl_access_hint(root: Path | None = None) -> str:
    """One line on granting access where the counters exist but cannot be read; '' otherwise."""
    root = root or RAPL_ROOT
    exists = any((p / "energy_uj").exists() for p in root.glob("intel-rapl:*"))
    return ACCESS_HINT if exists and Rapl.found(root) is None else ""
