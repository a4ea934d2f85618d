"""`coder`: the model that writes code — a zero-shot rewrite, one plan step, or a fix for an error.

A current candidate that failed to build or run is always the one to fix; otherwise the comparator's
coder_mode says whether to rewrite the source (zero_shot) or apply a plan step to the best (step).
"""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import (
    SOURCE,
    State,
    best,
    current,
    key,
    new_candidate,
    program,
    read_code,
    read_files,
    run_dir,
    store_files,
)
from nodes.shared.models import COMPILER_NAMES, LANGUAGE_NAMES, ask
from tools.energy.metrics import describe_measurement
from tools.llm.files import answer_files
from tools.rundir import write_text
from tools.sandbox.runner import RunResult

FAILED = ("build_failed", "run_failed")
ORIGIN_BY_MODE = {"zero_shot": "zero-shot", "step": "plan-step", "fix": "fix"}


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    prog = program(state)
    mode = "fix" if current(state)["status"] in FAILED else state["coder_mode"]
    language = LANGUAGE_NAMES[prog.language]
    if mode == "fix":
        parent = current(state)
        prompt, values = "fix", _fix_values(state, parent, prog.main, language)
    elif mode == "step":
        parent = best(state)
        prompt, values = "plan_step", {"plan": state["plan"]["text"], "code": read_code(parent), "main": prog.main,
                                       "measurement": describe_measurement(parent.get("measurement")),
                                       "compiler": COMPILER_NAMES[prog.language]}
    else:
        parent = state["candidates"][SOURCE]
        prompt, values = "zero_shot", {"language_name": language, "code": read_code(parent), "main": prog.main}

    version = state["next_version"]
    origin = ORIGIN_BY_MODE[mode]
    reply, calls = ask(state, ctx, "coder", prompt, state["temperature"],
                       about={"candidate": key(version), "mode": mode}, **values)
    folder = run_dir(state).candidate(version, origin)
    write_text(folder / "answer.md", reply.text)
    base = read_files(_nearest_with_code(state, parent))
    changed = answer_files(reply.text, list(base), prog.language)
    source_path, sha256, paths = store_files(folder, {**base, **changed}) if changed else (None, None, {})
    cand = new_candidate(version, parent["key"], origin, state["stage"], folder, source_path, sha256, files=paths,
                         temperature=reply.temperature, plan=(state.get("plan") or {}).get("number"),
                         tokens={"in": reply.tokens_in, "out": reply.tokens_out})
    if not changed:
        cand["reason"] = "the model's answer held no fenced code block"
    return {"candidates": {cand["key"]: cand}, "current": cand["key"], "next_version": version + 1,
            "llm_calls": calls, "corrections": state.get("corrections", 0) + 1 if mode == "fix" else 0}


def _nearest_with_code(state: State, cand: dict) -> dict:
    """The candidate, or its nearest ancestor when answers held no code block."""
    while not cand.get("source") and cand.get("parent"):
        cand = state["candidates"][cand["parent"]]
    return cand


def _fix_values(state: State, failed: dict, main: str, language: str) -> dict:
    """What the model needs to repair a candidate: its code, the failing step, the command, the error.

    An answer that held no code is 'fixed' from the nearest ancestor that had code.
    """
    code = read_code(_nearest_with_code(state, failed))
    values = {"language_name": language, "code": code, "main": main}
    if failed["status"] == "build_failed":
        log = Path(failed["build"]["log_path"]).read_text()
        return {**values, "stage": "build", "command": " ".join(failed["build"]["command"]) or "(nothing to build)",
                "error": log[-6000:]}
    run = failed["run"]
    result = RunResult(exit_code=run["exit_code"], stdout=Path(run["stdout_path"]).read_text(),
                       stderr=Path(run["stderr_path"]).read_text(), seconds=run["seconds"], timed_out=run["timed_out"])
    return {**values, "stage": "run", "command": " ".join(["./program", *state.get("args", [])]),
            "error": f"It {result.failure(run['time_limit_s'])}.\n{result.error_text()}"}
