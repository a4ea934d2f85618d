"""The source's witness, made once before the first rewrite, and the witness layer that holds candidates to it.

A witness (tools/witness.py) is accepted only when, outside its LASSI_WITNESS blocks, it is the source
line for line; built with -DLASSI_WITNESS, its output less its witness lines is the source's; its
witness lines are the same on two runs of the main arguments; and they change on another argument
set (so they follow the computation rather than print constants). The other sets are the
--check-args sets, or, where none are given, the main arguments with their last whole number halved
(the source must run on them); a program with neither gets no witness, and the run says so once.
The model writes the witness (a refused one goes back to it with the reason, at most
max_answer_fixes times) or the user gives it (a refused one stops the run). Without one, validation
goes on without the layer. A candidate's blocks may only add lines: one that names the macro elsewhere or
gives a block an #else branch fails the layer, since its measured build could differ from the checked one.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from graph.context import Context
from graph.state import SOURCE, State, program, read_files, read_stdout, run_dir, source, store_files
from nodes.executor import SOURCE_TIME_LIMIT_S, candidate_time_limit
from nodes.shared.containment import gpu_env, run_sandbox
from nodes.shared.gpu_work import binary_of
from nodes.shared.models import LANGUAGE_NAMES, ask
from nodes.shared.user_checks import output_comparison, variant_runs
from prompts import render
from tools.errors import LassiError
from tools.llm.edits import EditError, apply_answer
from tools.llm.scripted import NoRecordedAnswer
from tools.outputs import compare_outputs, failing_verdicts
from tools.program import read_source
from tools.rundir import read_recorded, write_text
from tools.sandbox.runner import run_program
from tools.witness import (
    ACCEPTED,
    FLAG,
    MACRO,
    NEVER,
    PREFIX,
    WitnessError,
    measured_build_differs,
    outside_blocks_differ,
    split_output,
    varied_args,
)

FOLDER = "witness"


def accepted(state: State) -> dict | None:
    """The run's witness where one was accepted, else None."""
    witness = state.get("witness") or {}
    return witness if witness.get("status") == ACCEPTED else None


def working_files(state: State, cand: dict) -> dict[str, str]:
    """The files a model works from: the witness in place of the source, where there is one."""
    witness = accepted(state)
    if cand["key"] == SOURCE and witness:
        return read_files(state, witness)
    return read_files(state, cand)


def keep_note(state: State) -> str:
    """What the coder's prompts say about the witness blocks ('' without a witness)."""
    return "\n" + render("witness_keep", macro=MACRO, prefix=PREFIX) if accepted(state) else ""


def make_witness(state: State, ctx: Context) -> tuple[dict, dict[str, int]]:
    """The run's witness record (accepted, or why there is none) and the model-call counters spent on it."""
    if ctx.witness == "off":
        return {"status": "off", "reason": "switched off (--witness off)"}, {}
    sets, why = _varied_sets(state, ctx)
    if sets is None:
        return {"status": "unprovable", "reason": why}, {}
    if ctx.witness != "model":
        return _users_witness(state, ctx, Path(ctx.witness), sets), {}
    return _models_witness(state, ctx, sets)


def _varied_sets(state: State, ctx: Context) -> tuple[list[list[str]] | None, str]:
    """The argument sets on which the witness lines must change ('' beside them), or None and why there are none."""
    if ctx.check_args:
        return [shlex.split(line) for line in ctx.check_args], ""
    args = state.get("args", [])
    varied = varied_args(args)
    if varied is None:
        return None, ("its lines could not be shown to follow the computation: the main arguments hold no whole"
                      " number to vary and no --check-args were given")
    run = run_dir(state)
    binary, work = binary_of(run, source(state))
    result = run_program([str(binary), *varied], work, ctx.time_limit or SOURCE_TIME_LIMIT_S,
                         env=gpu_env(state["language"], ctx), sandbox=run_sandbox(state, ctx))
    write_text(run.path / FOLDER / "source-on-varied-args.txt", result.stdout + result.stderr)
    failing = failing_verdicts(result.stdout)
    if not result.ok or failing:
        what = result.failure(ctx.time_limit or SOURCE_TIME_LIMIT_S) if not result.ok else f"reported {failing[0]!r}"
        return None, (f"its lines could not be shown to follow the computation: the source {what} on the varied"
                      f" arguments {shlex.join(varied)!r}; give --check-args")
    return [varied], ""


def _users_witness(state: State, ctx: Context, path: Path, sets: list[list[str]]) -> dict:
    record = offered_witness(state, ctx, read_source(path, ctx.encoding)[0], sets)
    if record["status"] != ACCEPTED:
        raise LassiError(f"your witness {path} is refused: {record['reason']} ({{setting}} off goes on without one)",
                         setting="witness")
    return {**record, "origin": "user"}


def offered_witness(state: State, ctx: Context, code: str, sets: list[list[str]] | None = None,
                    name: str = "given") -> dict:
    """A witness of the main source given whole, tried as the user's is (in the run's witness/`name`/):
    its record, accepted or refused and why."""
    if sets is None:
        sets, why = _varied_sets(state, ctx)
        if sets is None:
            return {"status": "unprovable", "reason": why}
    files = {**read_files(state, source(state)), program(state).main: code}
    record, refusal = _tried(state, ctx, files, sets, run_dir(state).path / FOLDER / name)
    return record or {"status": "refused", "reason": refusal}


def _models_witness(state: State, ctx: Context, sets: list[list[str]]) -> tuple[dict, dict[str, int]]:
    """Ask the coder for the witness until one is accepted, at most max_answer_fixes times again."""
    prog = program(state)
    src_files = read_files(state, source(state))
    code = src_files[prog.main]
    asked, calls, refusal = state, {}, ""
    values = {"language_name": LANGUAGE_NAMES[state["language"]], "main": prog.main, "code": code, "macro": MACRO,
              "prefix": PREFIX}
    refused = ""
    for attempt in range(ctx.max_answer_fixes + 1):
        try:
            reply, call = ask(asked, ctx, "coder", "witness", ctx.temperature_start, task="witness",
                              about={"witness": attempt + 1}, refused=refused, **values)
        except NoRecordedAnswer as exc:
            if attempt == 0:
                return {"status": "missing", "reason": f"the model gave none ({exc})"}, calls
            break
        calls.update(call)
        asked = {**asked, "llm_calls": {**(asked.get("llm_calls") or {}), **call}}
        folder = run_dir(state).path / FOLDER / f"attempt-{attempt + 1}"
        write_text(folder / "answer.md", reply.text)
        try:
            if reply.cut_off:
                raise EditError(f"the answer was cut off at the output limit of {ctx.max_output_tokens} tokens;"
                                " give edits rather than the whole file")
            witness = apply_answer(reply.text, {**prog.source_texts(), prog.main: code}, [prog.main],
                                   prog.language).files[prog.main]
        except EditError as exc:
            refusal, witness = exc.reason, exc.piece.strip() or reply.text
        else:
            record, refusal = _tried(state, ctx, {**src_files, prog.main: witness}, sets, folder)
            if not refusal:
                return {**record, "origin": "model", "attempts": attempt + 1}, calls
        refused = "\n" + render("witness_refused", reason=refusal, main=prog.main, witness=witness)
    return {"status": "refused", "reason": f"the model's last one was refused: {refusal}"}, calls


def _tried(state: State, ctx: Context, files: dict[str, str], sets: list[list[str]], folder: Path) -> tuple[dict, str]:
    """Build and run a witness: (its record, '') when it is accepted, else ({}, why not)."""
    prog, run = program(state), run_dir(state)
    source_code = read_files(state, source(state))[prog.main]
    try:
        refusal = outside_blocks_differ(source_code, files[prog.main])
    except WitnessError as exc:
        refusal = exc.reason
    if refusal:
        return {}, refusal
    _, _, paths = store_files(run, folder, files)
    made = {"dir": run.relative(folder), "files": paths}
    args = state.get("args", [])
    limit = ctx.time_limit or SOURCE_TIME_LIMIT_S
    built = variant_runs(state, prog, ctx, made, FLAG, "build", [args, args, *sets], limit,
                         gpu_env(state["language"], ctx), run_sandbox(state, ctx))
    if not built["ok"]:
        return {}, f"it {built['failure']}"
    runs = built["runs"]
    if failed := next((r for r in runs if not r["ok"]), None):
        return {}, f"built with {FLAG}, it {failed['failure']} on the arguments {failed['args']!r}"
    outputs = [read_recorded(run.at(r["stdout_path"]), r["stdout_sha256"]) for r in runs]
    (plain, lines), (_, again) = split_output(outputs[0]), split_output(outputs[1])
    same = output_comparison(ctx)(read_stdout(state, source(state)), plain)
    if not same.same:
        return {}, f"with its {PREFIX} lines taken out, its output is not the source's: {same.reason}"
    if not lines:
        return {}, f"built with {FLAG}, it printed no line starting with {PREFIX!r}"
    if lines != again:
        changed = next(f"`{a}` then `{b}`" for a, b in zip(lines + [""], again + [""]) if a != b)
        return {}, (f"its {PREFIX} lines differ between two runs on the same arguments ({changed}): print only"
                    " what the computation fixes, summed in a fixed order")
    if all(split_output(out)[1] == lines for out in outputs[2:]):
        shown = ", ".join(repr(r["args"]) for r in runs[2:])
        return {}, (f"its {PREFIX} lines are the same on the arguments {shown} as on the main ones, so they do not"
                    " follow the computation: print checksums of the results and counts of the work done")
    kept = [runs[0], *runs[2:]]
    return {"status": ACCEPTED, "dir": run.relative(folder), "files": paths, "runs": kept,
            "reason": (f"accepted: it prints {len(lines)} {PREFIX} line{'s' * (len(lines) != 1)}, the same on two"
                       f" runs, and other ones on {', '.join(repr(r['args']) for r in runs[2:])}"
                       + ("" if ctx.check_args else " (no --check-args were given: the main arguments with their last"
                                                   " whole number halved)"))}, ""


def witness_check(state: State, ctx: Context, cand: dict, env: dict[str, str], sandbox, compare) -> dict:
    """The witness layer: the candidate built with -DLASSI_WITNESS prints what the witness printed, on every set."""
    witness = accepted(state)
    if differs := measured_build_differs(read_files(state, cand)):
        return {"name": "witness", "ok": False, "reason": differs}
    sets = [shlex.split(r["args"]) for r in witness["runs"]]
    limit = ctx.time_limit or candidate_time_limit(max(r["seconds"] for r in witness["runs"]))
    built = variant_runs(state, program(state), ctx, cand, FLAG, "witness", sets, limit, env, sandbox)
    if not built["ok"]:
        return {"name": "witness", "ok": False, "reason": f"its witness build {built['failure']}"}
    run, agreed = run_dir(state), []
    for theirs, mine in zip(witness["runs"], built["runs"]):
        where = f"on the arguments {mine['args']!r}"
        if not mine["ok"]:
            return {"name": "witness", "ok": False, "reason": f"its witness build {mine['failure']} {where}"}
        printed, printed_lines = split_output(read_recorded(run.at(mine["stdout_path"]), mine["stdout_sha256"]))
        if not printed_lines:
            return {"name": "witness", "ok": False,
                    "reason": f"its witness build printed no {PREFIX} line {where}: the witness blocks were dropped"}
        expected, expected_lines = split_output(read_recorded(run.at(theirs["stdout_path"]), theirs["stdout_sha256"]))
        found = compare(expected, printed)  # the rest of the output, as the output layer compares it
        lines = compare_outputs("\n".join(expected_lines), "\n".join(printed_lines), ctx.rtol, ctx.atol,
                                masks=NEVER)  # no timing mask hides a witness line
        if not (found.same and lines.same and lines.conclusive):
            problem = found.reason if not found.same else f"its {PREFIX} lines: {lines.reason}"
            return {"name": "witness", "ok": False,
                    "reason": f"its witness build does not print what the source's witness prints {where}: {problem}"}
        agreed.append(found.reason)
    return {"name": "witness", "ok": True, "sees_results": True,
            "reason": f"its witness build prints what the source's witness prints on {len(sets)} argument sets"
                      f" ({agreed[0]})"}
