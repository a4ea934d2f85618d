"""Work evidence for C++/OpenMP programs: the instructions a run executes, counted by valgrind's callgrind.

What separates an honest rewrite from one that skips work is how much work is done, and on the
CPU the deterministic measure of that is the count of instructions executed. Hardware counters
are often unreadable (virtual machines, perf_event_paranoid) and vary run to run; runtime varies
with load. Callgrind simulates the program, so its count is exact and the same on every run when
the program runs on one OpenMP thread that waits passively (spinning threads would add a count
that depends on timing). It is slow (tens of times the native runtime), so it runs once per
candidate, unmeasured, on the main arguments.

The count is split by where it falls: inside OpenMP parallel regions (the functions GCC outlines
them into, `name._omp_fn.N`), elsewhere in the program's own code, and in libraries (the C library,
libm, the OpenMP runtime, the loader). A candidate that executes fewer than half the instructions of
the source, or fewer than half in parallel regions, is flagged. Vectorization lowers instructions
too, honestly: the flag is a question for the other layers and the judge, not a verdict.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.errors import LassiError
from tools.rundir import write_json, write_text
from tools.sandbox import Sandbox
from tools.sandbox.runner import run_program
from tools.workload import WorkloadCheck

DROP_TOLERANCE = 0.5  # fewer than half the source's instructions (in all, or in parallel regions) is flagged
SLOWDOWN = 60  # callgrind's time limit: this many times the native one
ESTIMATED_SLOWDOWN = 50  # what callgrind usually costs, to judge beforehand whether counting is worth its time
COUNT_BUDGET_S = 30.0  # a counting run estimated to take longer is not made on the main arguments
COUNTS_FILE = "callgrind.out"
ONE_QUIET_THREAD = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive", "GOMP_SPINCOUNT": "0"}
TOP_FUNCTIONS = 8
_PARALLEL_REGION = re.compile(r"\._omp_fn\.\d+$")


@dataclass
class CpuWork:
    """Instructions one run executed, by where they fell."""

    instructions: int = 0  # all of them, the process's whole life
    in_parallel_regions: int = 0  # inside OpenMP-outlined functions of the program
    in_program: int = 0  # anywhere in the program's own code (parallel regions included)
    functions: dict[str, int] = field(default_factory=dict)  # the program's busiest functions -> own instructions
    seconds: float = 0.0  # wall time of the counting run

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CpuWork":
        return cls(**data)


def parse_callgrind(text: str, program: str) -> CpuWork:
    """Callgrind's output file (written with uncompressed names), split by object and function.

    A cost line right after a `calls=` line is the inclusive cost of that call, already counted in
    the callee: it is skipped. `program` is the path of the program's binary (its `ob=` name).
    """
    work, objects = CpuWork(), {}
    obj = function = ""
    after_call = False
    for line in text.splitlines():
        if line.startswith("ob="):
            obj = line[3:]
        elif line.startswith("fn="):
            function = line[3:]
        elif line.startswith("calls="):
            after_call = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if after_call:
                after_call = False
                continue
            parts = line.split()
            cost = int(parts[1]) if len(parts) > 1 else 0
            work.instructions += cost
            if Path(obj).name == Path(program).name:
                work.in_program += cost
                objects[function] = objects.get(function, 0) + cost
                if _PARALLEL_REGION.search(function):
                    work.in_parallel_regions += cost
    busiest = sorted(objects.items(), key=lambda item: -item[1])[:TOP_FUNCTIONS]
    work.functions = dict(busiest)
    return work


def count_cpu_work(argv: list[str], cwd: Path, time_limit: float, folder: Path,
                   env: dict[str, str] | None = None, sandbox: Sandbox | None = None) -> CpuWork:
    """Run the program once under callgrind, on one quiet OpenMP thread; output and counts go into `folder`.

    Raises LassiError when valgrind is missing or the counting run fails.
    """
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise LassiError("valgrind is not installed (its callgrind tool counts the instructions of C++ programs)")
    folder.mkdir(parents=True, exist_ok=True)
    written = Path(cwd) / COUNTS_FILE
    written.unlink(missing_ok=True)
    command = [valgrind, "--tool=callgrind", "--quiet", f"--callgrind-out-file={written}", "--compress-strings=no",
               "--compress-pos=no", "--dump-line=no", *argv]
    limit = time_limit * SLOWDOWN
    result = run_program(command, cwd, limit, env={**(env or {}), **ONE_QUIET_THREAD}, sandbox=sandbox)
    write_text(folder / "stdout.txt", result.stdout)
    write_text(folder / "stderr.txt", result.stderr)
    if not result.ok or not written.exists():
        raise LassiError(f"the instruction-counting run (callgrind) {result.failure(limit) or 'wrote no counts'}"
                         f" (output in {folder})")
    text = written.read_text()
    written.unlink()
    work = parse_callgrind(text, argv[0])
    work.seconds = result.seconds
    write_json(folder / "cpu-work.json", work.to_dict())
    return work


def compare_cpu_work(source: CpuWork, candidate: CpuWork) -> WorkloadCheck:
    """Flag a drop in instructions executed, in all or in parallel regions; note the other changes."""
    flags, notes = [], []
    for label, before, after in (("instructions executed", source.instructions, candidate.instructions),
                                 ("instructions in OpenMP parallel regions", source.in_parallel_regions,
                                  candidate.in_parallel_regions)):
        if before and after < before * (1 - DROP_TOLERANCE):
            flags.append(f"{label} fell from {before:,} to {after:,} ({after / before - 1:+.0%})")
    if flags:
        notes.append("fewer instructions can also come from vectorization or a cheaper algorithm: only a layer"
                     " that sees the results can tell")
        return WorkloadCheck(True, flags + notes)
    change = candidate.instructions / source.instructions - 1 if source.instructions else 0.0
    return WorkloadCheck(False, [f"no drop: {candidate.instructions:,} instructions executed ({change:+.0%}),"
                                 f" {candidate.in_parallel_regions:,} in parallel regions, against"
                                 f" {source.instructions:,} and {source.in_parallel_regions:,} for the source"])


def cpu_work_rows(columns: dict[str, CpuWork]) -> list[tuple[str, list[str]]]:
    """(label, one cell per labelled count) for a table of source and candidate."""
    works = list(columns.values())
    return [("instructions executed", [f"{w.instructions:,}" for w in works]),
            ("in OpenMP parallel regions", [f"{w.in_parallel_regions:,}" for w in works]),
            ("in the program's own code", [f"{w.in_program:,}" for w in works]),
            ("in libraries and start-up", [f"{w.instructions - w.in_program:,}" for w in works])]


def cpu_work_table(columns: dict[str, CpuWork]) -> str:
    """A Markdown table of the counts, one column per labelled count."""
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in cpu_work_rows(columns)]
    return "\n".join(lines)
