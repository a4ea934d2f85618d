"""A candidate's work as counted in one unmeasured run (CUPTI for CUDA, callgrind for C++), and its wording for prompts."""

from __future__ import annotations

import shlex
from pathlib import Path

from graph.state import SOURCE, Candidate, State
from tools.build import BINARY_NAME
from tools.cpu_work import COUNT_BUDGET_S, ESTIMATED_SLOWDOWN, CpuWork, count_cpu_work, cpu_work_table
from tools.errors import LassiError
from tools.sandbox import Sandbox
from tools.workload import Workload, count_workload, describe_workload


def binary_of(candidate: Candidate) -> tuple[Path, Path]:
    """The candidate's built program and the workspace it runs in."""
    work = Path(candidate["dir"]) / "work"
    return Path((candidate.get("build") or {}).get("binary") or work / BINARY_NAME), work


def count_gpu_work(candidate: Candidate, args: list[str], limit: float, env: dict[str, str], sandbox: Sandbox) -> dict:
    """{'counts': ...} or {'error': why not}, from a run with the main arguments.

    A candidate that never initialises CUDA reports nothing and counts as doing no GPU work; the
    source must show some, or the counter itself did not work.
    """
    binary, work = binary_of(candidate)
    try:
        counted = count_workload([str(binary), *args], work, limit, Path(candidate["dir"]) / "workload", env, sandbox)
    except LassiError as exc:
        return {"error": str(exc)}
    if not counted.processes and candidate["key"] == SOURCE:
        return {"error": "CUPTI reported no GPU activity (the counter was not loaded, or the program never used CUDA)"}
    return {"counts": counted.to_dict()}


def count_cpu_work_of(candidate: Candidate, args: list[str], limit: float, sandbox: Sandbox) -> dict:
    """{'cpu': ...} or {'error': why not}, from a callgrind run with the main arguments."""
    binary, work = binary_of(candidate)
    try:
        counted = count_cpu_work([str(binary), *args], work, limit, Path(candidate["dir"]) / "workload", sandbox=sandbox)
    except LassiError as exc:
        return {"error": str(exc)}
    return {"cpu": counted.to_dict()}


def count_work(language: str, candidate: Candidate, args: list[str], limit: float, env: dict[str, str],
               sandbox: Sandbox) -> dict:
    """The candidate's workload record: GPU work for CUDA programs, instructions for C++ ones."""
    if language == "cuda":
        return count_gpu_work(candidate, args, limit, env, sandbox)
    return count_cpu_work_of(candidate, args, limit, sandbox)


def work_args(state: State, work_args_setting: str | None) -> list[str]:
    """The arguments of the counting runs: the user's own set for them, else the main arguments."""
    return shlex.split(work_args_setting) if work_args_setting else state.get("args", [])


def with_source_workload(state: State, src: Candidate, env: dict[str, str], limit: float, sandbox: Sandbox,
                         args: list[str]) -> Candidate:
    """The source's record with its workload counted (once per run)."""
    if "workload" in src:
        return src
    if state["language"] != "cuda" and args == state.get("args", []) and (slow := _too_slow_to_count(src)):
        return {**src, "workload": {"error": slow}}
    return {**src, "workload": count_work(state["language"], src, args, limit, env, sandbox)}


def _too_slow_to_count(src: Candidate) -> str:
    """Why callgrind would take too long on the main arguments ('' when it would not)."""
    durations = [r["duration_s"] for r in (src.get("measurement") or {}).get("readings", [])] or [src["run"]["seconds"]]
    estimate = min(durations) * ESTIMATED_SLOWDOWN
    if estimate <= COUNT_BUDGET_S:
        return ""
    return (f"counting its instructions would take about {estimate:.0f} s (callgrind runs about {ESTIMATED_SLOWDOWN}x"
            f" slower than the program's {min(durations):.2g} s): give --work-args with a smaller problem to count them")


def describe_gpu_work(candidate: Candidate) -> str:
    """The candidate's workload for a prompt: kernels and copies with their share of GPU time."""
    work = candidate.get("workload")
    if not work:
        return "not counted"
    if "error" in work:
        return f"not counted: {work['error']}"
    if "cpu" in work:
        return cpu_work_table({"this program": CpuWork.from_dict(work["cpu"])})
    return describe_workload(Workload.from_dict(work["counts"]))
