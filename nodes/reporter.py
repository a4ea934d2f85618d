"""`reporter`: Stage 4 — the model's comparison of source and best, report.md, and best/."""

from __future__ import annotations

import shutil
from pathlib import Path

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import State
from nodes.common import LANGUAGE_NAMES, ask, best, describe_measurement, read_code, read_stdout, run_dir, source
from tools.energy.meters import describe_objective
from tools.energy.plots import plot_overlay
from tools.report import OVERLAY_NAME, render_report
from tools.rundir import read_jsonl, write_text


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
            source_code=read_code(src), source_output=read_stdout(src), source_measurement=describe_measurement(src),
            best_code=read_code(top), best_output=read_stdout(top), best_measurement=describe_measurement(top))
        comparison = reply.text
    _copy_best(top, run.best)
    candidates = sorted(state["candidates"].values(), key=lambda c: c["version"])
    _draw_overlay(src, top, run.path / OVERLAY_NAME)
    text = render_report(run.path, src, top, candidates, comparison, read_jsonl(run.llm_log),
                         state.get("stop_reason", ""), describe_objective(src["measurement"]["objective"]),
                         ctx.models())
    write_text(run.report, text)
    return {**update, "stage": "done", "report": str(run.report)}


def _copy_best(candidate: dict, target: Path) -> None:
    """The best candidate's program folder (its workspace without the built binary)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(Path(candidate["dir"]) / "work", target, ignore=shutil.ignore_patterns("program"))


def _draw_overlay(src: dict, top: dict, png: Path) -> None:
    """Source and best on one time axis, where both have a power trace."""
    profiles = [(f"v{c['version']:03d} {c['origin']}", Path(c["measurement"]["trace_path"]), c["measurement"])
                for c in ((src, top) if top["key"] != src["key"] else (src,)) if c["measurement"].get("trace_path")]
    if profiles:
        plot_overlay(profiles, png, "Net GPU power, typical repeat")
