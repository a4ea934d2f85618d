"""Where a bench's trials run side by side: one slot per GPU (`--gpus`) for CUDA programs, one per set of
cores (`--cpus-per-trial`) for C++ programs. A trial holds its slot's locks for its whole life, so no two
trials, of this bench or of any other, use one GPU or one core at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from tools.energy.gpu_lock import cpu_lock, gpu_lock
from tools.errors import LassiError
from tools.gpu import find_gpu, nvml

UUID_PREFIXES = ("GPU-", "MIG-")


@dataclass(frozen=True)
class Slot:
    gpu: str | None = None  # the GPU's UUID; None: the program's own gpu setting
    cores: tuple[int, ...] = ()  # the cores the trial is pinned to; (): those of the bench

    @property
    def label(self) -> str:
        parts = ([f"GPU {self.gpu}"] if self.gpu else []) + ([f"cores {spans(self.cores)}"] if self.cores else [])
        return ", ".join(parts) or "this machine"

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the slot's locks for the block, and pin this process (and what it starts) to its cores."""
        with ExitStack() as stack:
            if self.gpu is not None:
                stack.enter_context(gpu_lock(self.gpu))
            if self.cores:
                stack.enter_context(cpu_lock(self.cores))
                os.sched_setaffinity(0, self.cores)
            yield

    def to_args(self) -> list[str]:
        """The slot as a worker's command-line arguments."""
        return ([f"--gpu={self.gpu}"] if self.gpu else []) + ([f"--cores={','.join(map(str, self.cores))}"]
                                                              if self.cores else [])


def gpu_slots(text: str | None) -> list[Slot]:
    """`--gpus 0,1`, `--gpus GPU-…,GPU-…` or `--gpus all`: one slot per GPU, each GPU once."""
    if text is None:
        return []
    if text.strip() == "all":
        selectors = [str(i) for i in range(nvml().nvmlDeviceGetCount())]
    else:
        selectors = [part.strip() for part in text.split(",") if part.strip()]
    if not selectors:
        raise LassiError(f"--gpus takes GPU indices or UUIDs separated by commas, or all, not {text!r}")
    uuids = [find_gpu(s).uuid for s in selectors]
    for uuid in uuids:
        if uuids.count(uuid) > 1:
            raise LassiError(f"--gpus names GPU {uuid} twice: each trial has its GPU to itself")
    return [Slot(gpu=uuid) for uuid in uuids]


def core_slots(per_trial: int | None, cores: set[int] | None = None) -> list[Slot]:
    """The bench's cores cut into disjoint sets of `per_trial` (the rest left idle); one slot of them all
    when `per_trial` is not given."""
    cores = sorted(cores if cores is not None else os.sched_getaffinity(0))
    if per_trial is None:
        return [Slot(cores=tuple(cores))]
    if per_trial < 1 or per_trial > len(cores):
        raise LassiError(f"--cpus-per-trial must be between 1 and the {len(cores)} cores this bench may use"
                         f" ({spans(cores)}), not {per_trial}")
    return [Slot(cores=tuple(cores[i:i + per_trial])) for i in range(0, len(cores) - per_trial + 1, per_trial)]


def parse_cores(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def spans(cores) -> str:
    """0,1,2,5 as "0-2,5"."""
    runs: list[list[int]] = []
    for core in sorted(cores):
        if runs and core == runs[-1][-1] + 1:
            runs[-1].append(core)
        else:
            runs.append([core])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
