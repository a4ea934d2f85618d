"""`reporter`: Stage 4 — source and best measured again, the model's comparison, the report files, best/
(the best's sources without their witness blocks, unless the keep_witness setting asks for them).

The best was chosen as the most saving of many noisy candidates, so the search's own figures lean
toward more saved: the report's headline comes from fresh pairs of best and source, measured
alternately here (tools/energy/decision.py `confirm_result`).
"""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import State, best, program, read_code, read_files, read_stdout, run_dir, source
from nodes.executor import program_runner, time_limit
from nodes.shared.containment import run_sandbox
from nodes.shared.models import LANGUAGE_NAMES, ask
from tools.build import BINARY_NAME
from tools.energy import choose_meter
from tools.energy.decision import confirm_result
from tools.energy.metrics import describe_measurement
from tools.program import copy_within, write_sources
from tools.report.run_report import write_reports
from tools.rundir import write_text
from tools.sandbox.scratch import remove_tree
from tools.witness import remove_blocks


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    run = run_dir(state)
    src, top = source(state), best(state)
    update: dict = {}
    if top["key"] == src["key"]:
        comparison = "No candidate was valid and better than the source, so there is nothing to compare."
    else:
        update["confirmation"] = _confirm(state, ctx, src, top)
        reply, update["llm_calls"] = ask(
            state, ctx, "reporter", "report", ctx.temperature_start,
            language_name=LANGUAGE_NAMES[state["language"]],
            source_code=read_code(state, src), source_output=read_stdout(state, src), source_measurement=describe_measurement(src.get("measurement")),
            best_code=read_code(state, top), best_output=read_stdout(state, top), best_measurement=describe_measurement(top.get("measurement")))
        comparison = reply.text
    write_text(run.comparison, comparison)  # kept, so `lassi-ee report` rebuilds the report without a model
    _copy_best(run.at(top["dir"]), run.best)
    if not ctx.keep_witness:  # the user's program, not its witness: the blocks go
        write_sources(program(state), run.best, remove_blocks(read_files(state, top)), ctx.encoding)
    write_reports(run, {**state, **update}, ctx.models(), ctx.base_url)
    return {**update, "stage": "done", "report": run.relative(run.report)}


def _confirm(state: State, ctx: Context, src: dict, top: dict) -> dict:
    """Fresh alternating pairs of best and source, as many as the confirm_pairs setting asks for."""
    meter = choose_meter(state["language"], ctx.gpu)
    limit, sandbox = time_limit({**state, "current": top["key"]}, ctx), run_sandbox(state, ctx)
    runs = [program_runner(state, c, meter, limit, sandbox) for c in (top, src)]
    return {"best": top["key"], **confirm_result(meter, *runs, ctx.confirm_pairs)}


def _copy_best(folder: Path, target: Path) -> None:
    """The best candidate's program folder (its workspace without the built binary); no link is followed
    out of it, so a link the candidate planted (to /etc, or to nothing) is left out."""
    work = folder / "work"
    remove_tree(target)
    copy_within(work, target, lambda folder, name: folder == work and name == BINARY_NAME)
