"""`coder`: the model that writes code — a zero-shot rewrite, one plan step, or a fix for an error.

A current candidate that failed to build or run is always the one to fix; otherwise the comparator's
coder_mode says whether to rewrite the source (zero_shot) or apply a plan step to the best (step).
Before the first rewrite it obtains the source's witness (nodes/shared/witness.py); rewrites of the
source are then made from the witness, so candidates carry its blocks.

An answer may be the whole file or edits to it (tools/llm/edits.py). One that cannot be used — cut
off at the output limit, an edit that does not apply, a file the run may not change, no code at all —
goes back to the model with the reason (the answer_fix prompt), up to max_answer_fixes times; it is
never built, and a candidate whose answers all failed is discarded.
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
    file_at,
    key,
    new_candidate,
    program,
    read_code,
    run_dir,
    store_files,
)
from nodes.shared.models import COMPILER_NAMES, LANGUAGE_NAMES, ask
from nodes.shared.witness import keep_note, make_witness, working_files
from prompts import render
from tools.energy.metrics import describe_measurement
from tools.llm.edits import EditError, apply_answer
from tools.llm.files import listing
from tools.program import Program
from tools.rundir import write_text
from tools.sandbox.runner import RunResult

FAILED = ("build_failed", "run_failed")
ORIGIN_BY_MODE = {"zero_shot": "zero-shot", "step": "plan-step", "fix": "fix"}


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    prog = program(state)
    mode = "fix" if current(state)["status"] in FAILED else state["coder_mode"]
    language = LANGUAGE_NAMES[prog.language]
    made: dict = {}
    if mode != "fix" and "witness" not in state:  # the first rewrite waits for the source's witness
        witness, spent = make_witness(state, ctx)
        made = {"witness": witness, "llm_calls": spent}
        state = {**state, "witness": witness, "llm_calls": {**(state.get("llm_calls") or {}), **spent}}
    if mode == "fix":
        parent = current(state)
    else:
        parent = best(state) if mode == "step" else state["candidates"][SOURCE]
    base = working_files(state, parent)  # a candidate without code is discarded, so the parent always has some
    if mode == "fix":
        prompt, values = "fix", _fix_values(state, parent, prog.main, language)
    elif mode == "step":
        prompt, values = "plan_step", {"plan": state["plan"]["text"], "code": listing(base), "main": prog.main,
                                       "measurement": describe_measurement(parent.get("measurement")),
                                       "compiler": COMPILER_NAMES[prog.language], "witness_note": keep_note(state)}
    else:
        prompt, values = "zero_shot", {"language_name": language, "code": listing(base), "main": prog.main,
                                       "witness_note": keep_note(state)}

    version = state["next_version"]
    origin = ORIGIN_BY_MODE[mode]
    run = run_dir(state)
    folder = run.candidate(version, origin)
    changed, answer, tokens, calls, temperature = _usable_answer(state, ctx, prog, prompt, values, folder, base,
                                                                 {"candidate": key(version), "mode": mode})
    source_path, sha256, paths = store_files(run, folder, {**base, **changed}) if changed else (None, None, {})
    cand = new_candidate(run, version, parent["key"], origin, state["stage"], folder, source_path, sha256, files=paths,
                         temperature=temperature, plan=(state.get("plan") or {}).get("number"), tokens=tokens,
                         answer=answer)
    if not changed:
        cand["status"] = "discarded"
        cand["reason"] = (f"no usable answer in {answer['fixes'] + 1} tries: {answer['problems'][-1]}")
    return {**made, "candidates": {cand["key"]: cand}, "current": cand["key"], "next_version": version + 1,
            "llm_calls": {**made.get("llm_calls", {}), **calls},
            "corrections": state.get("corrections", 0) + 1 if mode == "fix" else 0}


def _usable_answer(state: State, ctx: Context, prog: Program, prompt: str, values: dict, folder: Path,
                   base: dict[str, str], about: dict) -> tuple[dict[str, str], dict, dict, dict, float | None]:
    """Ask until an answer applies (at most max_answer_fixes times again) to the editable files `base`:
    (the files it changes, {} for none, what the answers were, the tokens they cost, the call counters,
    the temperature sent)."""
    files = {**prog.source_texts(), **base}
    asked, calls, tokens, problems = state, {}, {"in": 0, "out": 0}, []
    request, fix = prompt, {}
    for attempt in range(ctx.max_answer_fixes + 1):
        reply, call = ask(asked, ctx, "coder", request, state["temperature"], about={**about, "answer_fix": attempt},
                          **(fix or values))
        calls.update(call)
        asked = {**asked, "llm_calls": {**(asked.get("llm_calls") or {}), **call}}
        tokens = {"in": tokens["in"] + (reply.tokens_in or 0), "out": tokens["out"] + (reply.tokens_out or 0)}
        write_text(folder / ("answer.md" if attempt == 0 else f"answer-{attempt + 1}.md"), reply.text)
        record = {"finish_reason": reply.finish_reason, "fixes": attempt, "problems": problems}
        try:
            if reply.cut_off:
                raise EditError(f"the answer was cut off at the output limit of {ctx.max_output_tokens} tokens"
                                f" (finish reason {reply.finish_reason!r}); give edits rather than the whole file")
            applied = apply_answer(reply.text, files, list(base), prog.language)
        except EditError as exc:
            problems.append(exc.reason)
            failed = f"\nThe part that failed:\n```\n{exc.piece.strip()}\n```\n" if exc.piece.strip() else ""
            request, fix = "answer_fix", {"problem": exc.reason, "failed_part": failed, "main": ", ".join(base),
                                          "request": render(prompt, **values)}
            continue
        return applied.files, {**record, "form": applied.form}, tokens, calls, reply.temperature
    return {}, {**record, "form": None}, tokens, calls, reply.temperature


def _fix_values(state: State, failed: dict, main: str, language: str) -> dict:
    """What the model needs to repair a candidate: its code, the failing step, the command, the error."""
    values = {"language_name": language, "code": read_code(state, failed), "main": main}
    if failed["status"] == "build_failed":
        log = file_at(state, failed["build"]["log_path"]).read_text()
        return {**values, "stage": "build", "command": " ".join(failed["build"]["command"]) or "(nothing to build)",
                "error": log[-6000:]}
    run = failed["run"]
    result = RunResult(exit_code=run["exit_code"], stdout=file_at(state, run["stdout_path"]).read_text(),
                       stderr=file_at(state, run["stderr_path"]).read_text(), seconds=run["seconds"], timed_out=run["timed_out"])
    return {**values, "stage": "run", "command": " ".join(["./program", *state.get("args", [])]),
            "error": f"It {result.failure(run['time_limit_s'])}.\n{result.error_text()}"}
