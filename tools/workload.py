"""Workload evidence: the kernels a CUDA program launched and the memory it copied, counted by CUPTI.

A small injection library (tools/cupti/workload_counter.cpp) is built at first use with the toolkit's
nvcc against its CUPTI and cached, keyed by its source and the toolkit; CUDA loads it into any program
through CUDA_INJECTION64_PATH, so programs run unmodified. Counting runs are separate from measured
runs (CUPTI's records cost time), and a candidate doing less GPU work than its source is a warning
sign that it skips work rather than doing it better.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.cache import default_cache_dir
from tools.errors import LassiError
from tools.rundir import write_json, write_text
from tools.sandbox import Sandbox
from tools.sandbox.runner import run_program

COUNTER_SOURCE = Path(__file__).parent / "cupti" / "workload_counter.cpp"
OUTPUT_VARIABLE = "LASSI_WORKLOAD_OUT"
THREADS_DROP_TOLERANCE = 0.05  # launch-shape rounding moves the thread count a little; more is a drop
BUILD_TIME_LIMIT_S = 300
RESULTS_DIRECTION = "device-to-host"


@dataclass
class Workload:
    """What one run asked of the GPU. Times are GPU activity times in nanoseconds."""

    kernels: dict[str, dict] = field(default_factory=dict)  # name -> {launches, threads, gpu_ns}
    copies: dict[str, dict] = field(default_factory=dict)  # direction -> {count, bytes, gpu_ns, host_memory: {kind: count}}
    memsets: dict = field(default_factory=lambda: {"count": 0, "bytes": 0, "gpu_ns": 0})
    processes: int = 0  # processes that reported (each CUDA process of the run reports once, at exit)
    dropped: int = 0  # records CUPTI could not keep: the counts are then lower bounds
    seconds: float = 0.0  # wall time of the counting run

    @property
    def launches(self) -> int:
        return sum(k["launches"] for k in self.kernels.values())

    @property
    def threads(self) -> int:
        return sum(k["threads"] for k in self.kernels.values())

    @property
    def busy_ns(self) -> int:
        """Summed GPU activity time: kernels, copies and memsets."""
        return (sum(k["gpu_ns"] for k in self.kernels.values()) + sum(c["gpu_ns"] for c in self.copies.values())
                + self.memsets["gpu_ns"])

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Workload":
        return cls(**data)


@dataclass(frozen=True)
class WorkloadCheck:
    flagged: bool  # the candidate launched fewer kernels or threads than the source
    findings: list[str]  # what was flagged, then what changed without being flagged

    @property
    def reason(self) -> str:
        return "; ".join(self.findings)


def parse_counts(text: str) -> Workload:
    """The counter's report (see workload_counter.cpp), summed over every process that reported."""
    work = Workload()
    for line in text.splitlines():
        fields = line.split("\t")
        kind = fields[0]
        if kind == "process":
            work.processes += 1
        elif kind == "kernel" and len(fields) >= 5:
            entry = work.kernels.setdefault(short_kernel_name(fields[4]), {"launches": 0, "threads": 0, "gpu_ns": 0})
            for name, value in zip(("launches", "threads", "gpu_ns"), fields[1:4]):
                entry[name] += int(value)
        elif kind == "copy" and len(fields) >= 6:
            entry = work.copies.setdefault(fields[4], {"count": 0, "bytes": 0, "gpu_ns": 0, "host_memory": {}})
            for name, value in zip(("count", "bytes", "gpu_ns"), fields[1:4]):
                entry[name] += int(value)
            if fields[5] != "none":
                entry["host_memory"][fields[5]] = entry["host_memory"].get(fields[5], 0) + int(fields[1])
        elif kind == "memset" and len(fields) >= 4:
            for name, value in zip(("count", "bytes", "gpu_ns"), fields[1:4]):
                work.memsets[name] += int(value)
        elif kind == "dropped" and len(fields) >= 2:
            work.dropped += int(fields[1])
    return work


def short_kernel_name(demangled: str) -> str:
    """`void blur<16>(float const*, int)` -> `blur<16>`: the name without return type or parameters."""
    depth = 0
    for i, char in enumerate(demangled):
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "(" and depth == 0 and i > 0:
            demangled = demangled[:i]
            break
    return re.sub(r"^(void|auto)\s+", "", demangled.strip()) or "(unnamed kernel)"


def compare_workloads(source: Workload, candidate: Workload) -> WorkloadCheck:
    """Flag a drop in kernel launches or threads launched, in all or for one kernel both launch, and results
    copied back that would not fill even one of the source's copies back; note what else changed.

    Totals alone are blind to one kernel's work moved into another's launches; a kernel of the source
    that the candidate no longer launches may be fused into another, so it is noted, not flagged. A copy
    back hoisted out of a loop moves fewer bytes honestly, but never less than one whole copy."""
    flags, notes = [], []
    if candidate.launches < source.launches:
        flags.append(f"kernel launches fell from {source.launches:,} to {candidate.launches:,}")
    if candidate.threads < source.threads * (1 - THREADS_DROP_TOLERANCE):
        flags.append(f"threads launched fell from {source.threads:,} to {candidate.threads:,}"
                     f" ({candidate.threads / source.threads - 1:+.0%})")
    for name in sorted(set(source.kernels) & set(candidate.kernels)):
        before, after = source.kernels[name]["threads"], candidate.kernels[name]["threads"]
        if after < before * (1 - THREADS_DROP_TOLERANCE):
            flags.append(f"`{name}` ran {after:,} threads in all its launches instead of {before:,}"
                         f" ({after / before - 1:+.0%})")
    back, returned = source.copies.get(RESULTS_DIRECTION), candidate.copies.get(RESULTS_DIRECTION, {})
    if back and back["count"] and returned.get("bytes", 0) < back["bytes"] // back["count"]:
        flags.append(f"results copied back to the host fell from {format_bytes(back['bytes'])} to"
                     f" {format_bytes(returned.get('bytes', 0))}, less than one of the source's copies back")
    missing = sorted(set(source.kernels) - set(candidate.kernels))
    if missing:
        notes.append(f"kernels of the source never launched: {', '.join(missing)}")
    for direction in sorted(set(source.copies) | set(candidate.copies)):
        before, after = source.copies.get(direction, {}), candidate.copies.get(direction, {})
        if before.get("bytes", 0) != after.get("bytes", 0):
            notes.append(f"{direction} copies moved {format_bytes(after.get('bytes', 0))} instead of"
                         f" {format_bytes(before.get('bytes', 0))}")
    if candidate.dropped:
        notes.append(f"CUPTI dropped {candidate.dropped} records of the candidate: its counts are lower bounds")
    if flags:
        return WorkloadCheck(True, flags + notes)
    return WorkloadCheck(False, [f"no drop: {candidate.launches:,} kernel launches and {candidate.threads:,} threads"
                                 f" against {source.launches:,} and {source.threads:,} for the source", *notes])


def workload_table(columns: dict[str, Workload]) -> str:
    """A Markdown table of kernels, copies and memsets, one column per labelled workload."""
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in workload_rows(columns)]
    return "\n".join(lines)


def workload_rows(columns: dict[str, Workload]) -> list[tuple[str, list[str]]]:
    """(label, one cell per labelled workload) for kernels, copies and memsets."""
    works = list(columns.values())
    rows = [("kernel launches", [f"{w.launches:,}" for w in works]),
            ("threads launched", [f"{w.threads:,}" for w in works])]
    for kernel in sorted({k for w in works for k in w.kernels}):
        rows.append((f"`{kernel}` launches / GPU time",
                     [_kernel_cell(w.kernels.get(kernel)) for w in works]))
    for direction in sorted({d for w in works for d in w.copies}):
        rows.append((f"{direction} copies / bytes", [_copy_cell(w.copies.get(direction)) for w in works]))
    rows.append(("memsets / bytes", [f"{w.memsets['count']:,} / {format_bytes(w.memsets['bytes'])}" for w in works]))
    return rows


def describe_workload(work: Workload) -> str:
    """Where the GPU's time goes, in words: each kernel and copy direction with its share of busy time."""
    busy = work.busy_ns or 1
    lines = [f"{work.launches:,} kernel launches, {work.threads:,} threads launched in all"]
    for name, k in sorted(work.kernels.items(), key=lambda item: -item[1]["gpu_ns"]):
        lines.append(f"kernel {name}: {k['launches']:,} launches, {k['threads'] // max(k['launches'], 1):,} threads"
                     f" per launch, {k['gpu_ns'] / 1e9:.3g} s on the GPU ({k['gpu_ns'] / busy:.0%} of GPU busy time)")
    for direction, c in sorted(work.copies.items(), key=lambda item: -item[1]["gpu_ns"]):
        memory = ", ".join(f"{n:,} from {kind} host memory" for kind, n in sorted(c["host_memory"].items()))
        lines.append(f"{direction} copies: {c['count']:,} moving {format_bytes(c['bytes'])},"
                     f" {c['gpu_ns'] / 1e9:.3g} s ({c['gpu_ns'] / busy:.0%} of GPU busy time)"
                     + (f"; {memory}" if memory else ""))
    if work.memsets["count"]:
        lines.append(f"memsets: {work.memsets['count']:,} setting {format_bytes(work.memsets['bytes'])}")
    return "\n".join(f"- {line}" for line in lines)


def format_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def _kernel_cell(k: dict | None) -> str:
    return f"{k['launches']:,} / {k['gpu_ns'] / 1e6:.3g} ms" if k else "—"


def _copy_cell(c: dict | None) -> str:
    if not c:
        return "—"
    memory = "".join(f", {n:,} {kind}" for kind, n in sorted(c["host_memory"].items()))
    return f"{c['count']:,} / {format_bytes(c['bytes'])}{memory}"


def count_workload(argv: list[str], cwd: Path, time_limit: float, folder: Path,
                   env: dict[str, str] | None = None, sandbox: Sandbox | None = None) -> Workload:
    """Run the program once with the counter injected; its output and the counts go into `folder`.

    The counter writes inside the program's scratch folder (the only place a sandboxed program may
    write); the counts are moved to `folder` afterwards. Raises LassiError when the counter cannot
    be built or the counting run fails.
    """
    library = counter_library()
    folder.mkdir(parents=True, exist_ok=True)
    written = Path(cwd) / "workload-counts.tsv"
    written.unlink(missing_ok=True)
    result = run_program(argv, cwd, time_limit, sandbox=sandbox,
                         env={**(env or {}), "CUDA_INJECTION64_PATH": str(library), OUTPUT_VARIABLE: str(written)})
    write_text(folder / "stdout.txt", result.stdout)
    write_text(folder / "stderr.txt", result.stderr)
    if not result.ok:
        raise LassiError(f"the counting run {result.failure(time_limit)} (output in {folder})")
    text = written.read_text() if written.exists() else ""
    written.unlink(missing_ok=True)
    write_text(folder / "counts.tsv", text)
    work = parse_counts(text)
    work.seconds = result.seconds
    write_json(folder / "workload.json", work.to_dict())
    return work


def counter_library() -> Path:
    """The injection library, built on first use into the user's cache and reused after."""
    toolkit = cuda_toolkit()
    include, lib = cupti_folders(toolkit)
    source = COUNTER_SOURCE.read_bytes()
    stamp = hashlib.sha256(source + str(toolkit).encode() + _toolkit_version(toolkit).encode()).hexdigest()[:16]
    target = Path(default_cache_dir()) / f"workload-counter-{stamp}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".workload-counter-", suffix=".so")
    os.close(fd)
    command = [str(toolkit / "bin" / "nvcc"), "-std=c++17", "-O2", "-shared", "-Xcompiler", "-fPIC",
               str(COUNTER_SOURCE), f"-I{include}", f"-L{lib}", "-lcupti", "-Xlinker", f"-rpath,{lib}", "-o", temporary]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIME_LIMIT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        os.unlink(temporary)
        raise LassiError(f"the CUPTI workload counter could not be built: {exc}") from None
    if done.returncode != 0:
        os.unlink(temporary)
        first = next((line for line in (done.stderr + done.stdout).splitlines() if "error" in line), done.stderr[:300])
        raise LassiError(f"the CUPTI workload counter did not build: {first.strip()}")
    os.replace(temporary, target)  # concurrent first uses both build; either result is the same library
    return target


def cuda_toolkit() -> Path:
    """The CUDA toolkit folder: $CUDA_HOME, else where the nvcc on PATH says it lives ($NVCC honoured).

    nvcc itself is asked (its TOP folder), because the nvcc on PATH is often a link or a wrapper script.
    """
    if home := os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH"):
        return Path(home)
    nvcc = shutil.which(os.environ.get("NVCC", "nvcc"))
    if nvcc is None:
        raise LassiError("the CUDA toolkit was not found (no nvcc on PATH and no CUDA_HOME): workload not counted")
    try:
        dry = subprocess.run([nvcc, "--dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull],
                             capture_output=True, text=True, timeout=60)
        top = re.search(r"^#\$ TOP=(.+)$", dry.stdout + dry.stderr, re.M)
    except (OSError, subprocess.TimeoutExpired):
        top = None
    return Path(top.group(1).strip()).resolve() if top else Path(nvcc).resolve().parent.parent


def cupti_folders(toolkit: Path) -> tuple[Path, Path]:
    """Where the toolkit keeps cupti.h and libcupti.so (the layout moved between toolkit versions)."""
    for include, lib in (("targets/x86_64-linux/include", "targets/x86_64-linux/lib"),
                         ("extras/CUPTI/include", "extras/CUPTI/lib64"), ("include", "lib64")):
        if (toolkit / include / "cupti.h").exists() and any((toolkit / lib).glob("libcupti.so*")):
            return toolkit / include, toolkit / lib
    raise LassiError(f"CUPTI (cupti.h and libcupti.so) not found in the CUDA toolkit at {toolkit}: workload not counted")



def _toolkit_version(toolkit: Path) -> str:
    for name in ("version.json", "version.txt"):
        if (toolkit / name).exists():
            return (toolkit / name).read_text()
    return ""
