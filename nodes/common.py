"""What several nodes need: the run's files, the program, candidate records, and model calls.

A candidate record (state["candidates"][key]) holds:
  version, parent, origin (source | zero-shot | plan-step | fix), stage, dir, source (path), sha256,
  temperature, plan, status, reason, build, run, measurement, validation, outcome, tokens,
  check_runs (outputs on the --check-args sets), workload ({"counts": ...} or {"error": ...}).
status moves generated → built | build_failed → ran | run_failed → judged, or → discarded.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from graph.context import Context
from graph.state import SOURCE, State, key
from prompts import prompt_version, render
from tools.cache import ReplyCache
from tools.energy.measurement import with_interval
from tools.compiler import BINARY_NAME
from tools.errors import LassiError
from tools.gpu import device_node, find_gpu, only_gpu_env
from tools.llm import Models, Reply
from tools.program import Program, load_program
from tools.rundir import RunDir
from tools.sandbox import NVIDIA_SHARED_NODES, Sandbox, choose_sandbox
from tools.workload import Workload, count_workload, describe_workload

LANGUAGE_NAMES = {"cuda": "CUDA C++", "cpp": "C++ with OpenMP"}
COMPILER_NAMES = {"cuda": "nvcc", "cpp": "g++ -fopenmp"}


def run_dir(state: State) -> RunDir:
    return RunDir(state["run_dir"])


def program(state: State) -> Program:
    return load_program(state["program"], state.get("main"))


def current(state: State) -> dict:
    return state["candidates"][state["current"]]


def best(state: State) -> dict:
    return state["candidates"][state["best"]]


def source(state: State) -> dict:
    return state["candidates"][SOURCE]


def read_code(candidate: dict) -> str:
    return Path(candidate["source"]).read_text() if candidate.get("source") else ""


def read_stdout(candidate: dict) -> str:
    path = (candidate.get("run") or {}).get("stdout_path")
    return Path(path).read_text() if path else ""


def new_candidate(version: int, parent: str | None, origin: str, stage: str, folder: Path,
                  source_path: Path | None, sha256: str | None, **extra) -> dict:
    return {"version": version, "key": key(version), "parent": parent, "origin": origin, "stage": stage,
            "dir": str(folder), "source": str(source_path) if source_path else None, "sha256": sha256,
            "status": "generated", "reason": "", **extra}


def failed_status(step: str, reason: str, corrections: int, budget: int) -> tuple[str, str]:
    """`build_failed`/`run_failed` while fixes remain (the coder is asked for one), else `discarded`."""
    if corrections >= budget:
        return "discarded", f"{step} failed and the correction budget ({budget}) is spent: {reason}"
    return f"{step}_failed", reason


MEASURED = (("net_energy_j", "net GPU energy", "J"), ("gross_energy_j", "gross energy", "J"),
            ("avg_power_w", "average power", "W"), ("duration_s", "runtime", "s"))  # (metric, label, unit)


def describe_measurement(candidate: dict) -> str:
    """One line of figures for prompts and progress: energy, power, runtime, with intervals."""
    measurement = candidate.get("measurement")
    if not measurement:
        return "not measured"
    stats = measurement["stats"]
    parts = []
    for metric, label, unit in MEASURED:
        if metric in stats:
            parts.append(f"{label} {with_interval(stats[metric], unit)}")
    n = measurement["repeats"]
    return ", ".join(parts) + f" ({n} run{'s' if n != 1 else ''}, measured by {measurement['method']})"


def ask(state: State, context: Context, role: str, prompt: str, temperature: float | None,
        task: str = "", about: dict | None = None, cache: ReplyCache | None = None,
        **values) -> tuple[Reply, dict[str, int]]:
    """Render `prompt`, ask the role's model (or the cache), and return the reply with the call-counter update."""
    language = state["language"]
    call_key = f"{role}/{task}" if task else role
    index = (state.get("llm_calls") or {}).get(call_key, 0)
    models = Models(context.models(), run_dir(state).llm_log, base_url=context.base_url,
                    max_retries=context.max_llm_retries, backoff_s=context.llm_backoff_s)
    reply = models.ask(role, render("system", language_name=LANGUAGE_NAMES[language]), render(prompt, **values),
                       temperature, index, task=task, cache=cache,
                       about={"prompt_name": prompt, "prompt_version": prompt_version(prompt), **(about or {})})
    return reply, {call_key: index + 1}


def sandbox_for(context: Context, language: str) -> Sandbox:
    """The containment of a run's builds and runs; CUDA programs may open the chosen GPU's nodes only."""
    devices: tuple[str, ...] = ()
    if language == "cuda":
        try:
            devices = (device_node(find_gpu(context.gpu)),)
        except LassiError:  # no GPU here: CUDA sources are still built
            pass
        devices += NVIDIA_SHARED_NODES
    return choose_sandbox(context.sandbox, context.limits(), devices)


def judge_tag() -> str:
    """A marker the code under judgement cannot predict, so it cannot fake the end of its block."""
    return secrets.token_hex(6)


def run_record(prog: Program, args: list[str], context: Context) -> dict:
    """The content of run.json: what was run, with which settings, and the versions of the tools."""
    from importlib.metadata import PackageNotFoundError, version
    import platform

    from tools.compiler import compiler_version

    def package(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {"program": str(prog.folder), "main": prog.main, "language": prog.language, "args": list(args),
            "context": context.to_dict(), "thread_id": THREAD_ID,
            "versions": {"python": platform.python_version(), "lassi-ee": package("lassi-ee"),
                         "langgraph": package("langgraph"), "langchain-core": package("langchain-core"),
                         "nvidia-ml-py": package("nvidia-ml-py"), "compiler": compiler_version(prog.language)}}


NOT_CUDA = {"error": "CUPTI counts the GPU work of CUDA programs only"}


def gpu_env(language: str, context: Context) -> dict[str, str]:
    """Unmeasured runs see the same single GPU the measured runs do."""
    return only_gpu_env(find_gpu(context.gpu)) if language == "cuda" else {}


def binary_of(candidate: dict) -> tuple[Path, Path]:
    """The candidate's built program and the workspace it runs in."""
    work = Path(candidate["dir"]) / "work"
    return work / BINARY_NAME, work


def count_gpu_work(candidate: dict, args: list[str], limit: float, env: dict[str, str], sandbox: Sandbox) -> dict:
    """One unmeasured counting run with the main arguments: {'counts': ...} or {'error': why not}.

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


def with_source_workload(state: State, src: dict, env: dict[str, str], limit: float, sandbox: Sandbox) -> dict:
    """The source's record with its workload counted (once per run)."""
    if "workload" in src:
        return src
    if state["language"] != "cuda":
        return {**src, "workload": NOT_CUDA}
    return {**src, "workload": count_gpu_work(src, state.get("args", []), limit, env, sandbox)}


def describe_gpu_work(candidate: dict) -> str:
    """The candidate's workload for a prompt: kernels and copies with their share of GPU time."""
    work = candidate.get("workload")
    if not work:
        return "not counted"
    if "error" in work:
        return f"not counted: {work['error']}"
    return describe_workload(Workload.from_dict(work["counts"]))


THREAD_ID = "lassi-ee"  # one run per run directory, so one thread per checkpoint file
