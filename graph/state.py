"""The graph's state: plain JSON-able data, so every checkpoint round-trips unchanged.

Candidate code lives in files in the run directory; the state holds their paths, relative to the run
directory (so a copied or moved run reads its own files, never the original's), and hashes. A
candidate's status moves generated → built | build_failed → ran | run_failed → judged, or →
discarded; the accessors below are the one way nodes and faces read the candidates.
"""

from __future__ import annotations

from pathlib import Path
from typing import (
    Annotated,
    NotRequired,  # pydantic (Studio's input form) needs them on Python 3.11
)

from typing_extensions import TypedDict

from tools.llm.files import listing
from tools.program import Program, load_program, sha256_text
from tools.rundir import RunDir, read_recorded, version_key, version_label, write_text


def merge(old: dict | None, new: dict | None) -> dict:
    """Reducer for keyed maps: an update replaces the entries it names and keeps the others."""
    return {**(old or {}), **(new or {})}


class Candidate(TypedDict):
    """One version of the program: the source (v000), a zero-shot rewrite, a plan step, or a fix."""

    version: int
    key: str  # "003": the candidate's key in state["candidates"]
    parent: str | None  # the key of the version it was made from
    origin: str  # source | zero-shot | plan-step | fix
    stage: str  # the stage it was made in
    dir: str  # its folder in the run directory
    source: str | None  # path of its first editable file (the main source unless other files are edited)
    sha256: str | None  # of its editable files together
    status: str  # generated | built | build_failed | ran | run_failed | judged | discarded
    reason: str  # why it failed or was discarded ('' otherwise)
    temperature: NotRequired[float | None]  # the sampling temperature it was written at
    plan: NotRequired[int | None]  # the number of the plan it carries out
    build: NotRequired[dict]  # the build's command, exit code, log path, duration
    run: NotRequired[dict]  # the measured run's exit code, stdout path, duration
    measurement: NotRequired[dict]  # repeats, per-metric statistics, device, meter
    validation: NotRequired[list[dict]]  # each check's name, verdict and reason
    outcome: NotRequired[str]  # the comparator's word: better | not better | invalid | failed
    tokens: NotRequired[dict]  # model usage of the answers that made it
    answer: NotRequired[dict]  # its form (whole file, unified diff, search/replace), finish reason, answer fixes
    check_runs: NotRequired[list[dict]]  # its outputs on the check-argument sets
    workload: NotRequired[dict]  # {"counts": ...} or {"error": why not counted}
    files: NotRequired[dict[str, str]]  # every editable file: its name in the program folder -> its path here


class Input(TypedDict, total=False):
    """What a run starts from (Studio's input form)."""

    program: str  # folder holding the main source (or the main source itself)
    args: list[str]  # the program's command-line arguments
    main: str | None  # main source file name when the folder holds several
    run_dir: str  # where the run's files go; created under the context's runs_root when absent


class State(Input, total=False):
    language: str  # "cuda" or "cpp"
    stage: str  # profile -> zero_shot -> refine -> done
    candidates: Annotated[dict[str, Candidate], merge]  # "003" -> its record
    current: str | None  # the candidate being built, run or judged
    best: str | None  # the best valid candidate so far ("000" is the source)
    next_version: int
    coder_mode: str  # zero_shot | step (a failed current candidate is always fixed first)
    next_step: str  # the comparator's decision: zero_shot | context | new_plan | retry | report | done
    temperature: float
    iterations: int  # Stage 3 candidates judged so far (fixes not counted)
    corrections: int  # fixes spent on the current candidate chain
    plan: dict | None  # {"number", "text", "for_version", "path"}
    plans: int
    summaries: dict[str, str]  # knowledge, system, code
    llm_calls: Annotated[dict[str, int], merge]  # answers received per role/task: scripted replay index
    stop_reason: str
    witness: dict  # the source's witness, made before the first rewrite: its status, reason, files, runs
    confirmation: dict  # Stage 4: fresh alternating pairs of best and source, the headline's runs
    report: str  # path of report.md once written


key = version_key  # a version's key in state["candidates"]: 3 -> "003"
label = version_label  # how people read a version: "v003"
SOURCE = key(0)


def new_candidate(run: RunDir, version: int, parent: str | None, origin: str, stage: str, folder: Path,
                  source_path: Path | None, sha256: str | None, **extra) -> Candidate:
    return {"version": version, "key": key(version), "parent": parent, "origin": origin, "stage": stage,
            "dir": run.relative(folder), "source": run.relative(source_path) if source_path else None,
            "sha256": sha256, "status": "generated", "reason": "", **extra}


def failed_status(step: str, reason: str, corrections: int, budget: int) -> tuple[str, str]:
    """`build_failed`/`run_failed` while fixes remain (the coder is asked for one), else `discarded`."""
    if corrections >= budget:
        return "discarded", f"{step} failed and the correction budget ({budget}) is spent: {reason}"
    return f"{step}_failed", reason


def current(state: State) -> Candidate:
    return state["candidates"][state["current"]]


def best(state: State) -> Candidate:
    return state["candidates"][state["best"]]


def source(state: State) -> Candidate:
    return state["candidates"][SOURCE]


def store_files(run: RunDir, folder: Path, files: dict[str, str]) -> tuple[Path, str, dict[str, str]]:
    """Write a candidate's editable files into its folder: its record's source path, sha256 and files.

    The files map, like every path in state, is relative to the run directory.
    """
    paths = {name: folder / name for name in files}
    for name, text in files.items():
        write_text(paths[name], text)
    return next(iter(paths.values())), sha256_text(listing(files)), {name: run.relative(p) for name, p in paths.items()}


def files_of(state: State, candidate: Candidate) -> dict[str, Path]:
    """Where the candidate's editable files lie now, by name ({} when its answer held no code)."""
    if candidate.get("files"):
        return {name: file_at(state, stored) for name, stored in candidate["files"].items()}
    if candidate.get("source"):  # a record from before several files could be edited
        return {Path(candidate["source"]).name: file_at(state, candidate["source"])}
    return {}


def read_files(state: State, candidate: Candidate) -> dict[str, str]:
    """The candidate's editable files by name ({} when its answer held no code)."""
    return {name: path.read_text() for name, path in files_of(state, candidate).items()}


def read_code(state: State, candidate: Candidate) -> str:
    """The candidate's code as the model reads it: the one editable file, or all of them, each named."""
    return listing(read_files(state, candidate))


def read_stdout(state: State, candidate: Candidate) -> str:
    """The output of its measured run, checked against the hash recorded when it was written."""
    run = candidate.get("run") or {}
    return read_recorded(file_at(state, run["stdout_path"]), run.get("stdout_sha256")) if run.get("stdout_path") else ""


def folder_of(state: State, candidate: Candidate) -> Path:
    return run_dir(state).at(candidate["dir"])


def file_at(state: State, stored: str) -> Path:
    """The file a path in state names (paths in state are relative to the run directory)."""
    return run_dir(state).at(stored)


def run_dir(state: State) -> RunDir:
    return RunDir(state["run_dir"])


def program(state: State) -> Program:
    return load_program(state["program"], state.get("main"))
