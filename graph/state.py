"""The graph's state: plain JSON-able data, so every checkpoint round-trips unchanged.

Candidate code lives in files in the run directory; the state holds their paths and hashes.
"""

from __future__ import annotations

from typing import Annotated

from typing_extensions import TypedDict  # pydantic (Studio's input form) needs it on Python 3.11


def merge(old: dict | None, new: dict | None) -> dict:
    """Reducer for keyed maps: an update replaces the entries it names and keeps the others."""
    return {**(old or {}), **(new or {})}


class Input(TypedDict, total=False):
    """What a run starts from (Studio's input form)."""

    program: str  # folder holding the main source (or the main source itself)
    args: list[str]  # the program's command-line arguments
    main: str | None  # main source file name when the folder holds several
    run_dir: str  # where the run's files go; created under the context's runs_root when absent


class State(Input, total=False):
    language: str  # "cuda" or "cpp"
    stage: str  # profile -> zero_shot -> refine -> done
    candidates: Annotated[dict[str, dict], merge]  # "003" -> candidate record (see nodes/common.py)
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
    report: str  # path of report.md once written


def key(version: int) -> str:
    return f"{version:03d}"


SOURCE = key(0)
