"""A candidate's GPU work as CUPTI counts it: one unmeasured counting run, and its wording for prompts."""

from __future__ import annotations

from pathlib import Path

from graph.state import SOURCE, Candidate, State
from tools.build import BINARY_NAME
from tools.errors import LassiError
from tools.sandbox import Sandbox
from tools.workload import Workload, count_workload, describe_workload

NOT_CUDA = {"error": "CUPTI counts the GPU work of CUDA programs only"}


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


def with_source_workload(state: State, src: Candidate, env: dict[str, str], limit: float, sandbox: Sandbox) -> Candidate:
    """The source's record with its workload counted (once per run)."""
    if "workload" in src:
        return src
    if state["language"] != "cuda":
        return {**src, "workload": NOT_CUDA}
    return {**src, "workload": count_gpu_work(src, state.get("args", []), limit, env, sandbox)}


def describe_gpu_work(candidate: Candidate) -> str:
    """The candidate's workload for a prompt: kernels and copies with their share of GPU time."""
    work = candidate.get("workload")
    if not work:
        return "not counted"
    if "error" in work:
        return f"not counted: {work['error']}"
    return describe_workload(Workload.from_dict(work["counts"]))
