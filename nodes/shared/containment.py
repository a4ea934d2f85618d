"""The containment of a run's builds and runs, and the one GPU they see."""

from __future__ import annotations

from dataclasses import replace

from graph.context import Context
from graph.state import State, program, run_dir, source
from tools.errors import LassiError
from tools.gpu import device_node, find_gpu, only_gpu_env
from tools.sandbox import NVIDIA_SHARED_NODES, Sandbox, choose_sandbox
from tools.sandbox.containment import CANDIDATE_MARGIN, candidate_max_tasks, machine_max_tasks


def sandbox_for(context: Context, language: str, read_only: tuple[str, ...] = (),
                guarded: tuple[tuple[str, str], ...] = ()) -> Sandbox:
    """CUDA programs may open the chosen GPU's device nodes only; `read_only` paths are seen and never written;
    `guarded` folders (named) are put back as they were if a program run without bubblewrap changes them."""
    devices: tuple[str, ...] = ()
    if language == "cuda":
        try:
            devices = (device_node(find_gpu(context.gpu)),)
        except LassiError:  # no GPU here: CUDA sources are still built
            pass
        devices += NVIDIA_SHARED_NODES
    return replace(choose_sandbox(context.sandbox, context.limits(), devices, tuple(context.pass_env)),
                   read_only=tuple(read_only), guarded=guarded)


def run_sandbox(state: State, context: Context) -> Sandbox:
    """The containment of the run's program runs: its folders guarded and, once the source has been measured,
    the task cap its candidates get (task_cap)."""
    sandbox = sandbox_for(context, state["language"], guarded=guarded_folders(state))
    cap = (source(state).get("run") or {}).get("task_cap") if state.get("candidates") else None
    if cap is None or context.max_processes:
        return sandbox
    return replace(sandbox, limits=replace(sandbox.limits, max_tasks=cap["max_tasks"],
                                           tasks_origin=f"the cap of a candidate's runs, {cap['how']}"))


def guarded_folders(state: State) -> tuple[tuple[str, str], ...]:
    """What a program must leave as it is: the run directory and the program folder."""
    return ("run directory", str(run_dir(state).path)), ("program folder", str(program(state).folder))


def task_cap(context: Context, source_peak: int) -> dict:
    """The processes and threads a candidate's runs may have at once, from the source's own peak in Stage 0
    (tools/sandbox/containment.py says why), with where it came from, as the run records it."""
    if context.max_processes:
        return {"max_tasks": context.max_processes, "source_peak": source_peak, "how": "set by the max-processes setting"}
    floor = candidate_max_tasks(0)
    return {"max_tasks": candidate_max_tasks(source_peak), "source_peak": source_peak,
            "how": (f"the larger of {floor} and {CANDIDATE_MARGIN} × the {source_peak} the source ran at its peak in"
                    f" Stage 0, within the machine's bound of {machine_max_tasks()}")}


def gpu_env(language: str, context: Context) -> dict[str, str]:
    """Unmeasured runs see the same single GPU the measured runs do."""
    return only_gpu_env(find_gpu(context.gpu)) if language == "cuda" else {}
