"""`reporter`: Stage 4 — the model's comparison of source and best, the report files, and best/."""

from __future__ import annotations

import shutil
from pathlib import Path

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import State, best, read_code, read_stdout, run_dir, source
from nodes.shared.models import LANGUAGE_NAMES, ask
from tools.build import BINARY_NAME
from tools.energy.metrics import describe_measurement
from tools.program import share_file
from tools.report.run_report import write_reports
from tools.rundir import write_text


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    run = run_dir(state)
    src, top = source(state), best(state)
    update: dict = {}
    if top["key"] == src["key"]:
        comparison = "No candidate was valid and better than the source, so there is nothing to compare."
    else:
        reply, update["llm_calls"] = ask(
            state, ctx, "reporter", "report", ctx.temperature_start,
            language_name=LANGUAGE_NAMES[state["language"]],
            source_code=read_code(src), source_output=read_stdout(src), source_measurement=describe_measurement(src.get("measurement")),
            best_code=read_code(top), best_output=read_stdout(top), best_measurement=describe_measurement(top.get("measurement")))
        comparison = reply.text
    write_text(run.comparison, comparison)  # kept, so `lassi-ee report` rebuilds the report without a model
    _copy_best(top, run.best)
    write_reports(run, state, ctx.models(), ctx.base_url)
    return {**update, "stage": "done", "report": str(run.report)}


def _copy_best(candidate: dict, target: Path) -> None:
    """The best candidate's program folder (its workspace without the built binary)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(Path(candidate["dir"]) / "work", target, ignore=shutil.ignore_patterns(BINARY_NAME, ".tmp"),
                    symlinks=True, copy_function=share_file)
