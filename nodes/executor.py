"""`executor`: run the built candidate under the meter, repeated, and keep its output and figures."""

from __future__ import annotations

import json
from pathlib import Path

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import SOURCE, State, current, failed_status, label, source
from nodes.shared.containment import sandbox_for
from nodes.shared.first_runs import FirstRuns, RejectedEarly
from nodes.shared.gpu_work import binary_of
from tools.energy import RepeatPolicy, choose_meter, measure
from tools.energy.metrics import with_interval
from tools.errors import LassiError
from tools.report.plots import plot_profile
from tools.rundir import write_json, write_text
from tools.sandbox.runner import RunResult, line_buffered, run_program

SOURCE_TIME_LIMIT_S = 600.0
OUTCOME_FILE = "executed.json"  # the node's whole result for this candidate


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    cand = current(state)
    folder = Path(cand["dir"])
    outcome = folder / OUTCOME_FILE
    if outcome.is_file():  # measured before the run was killed, its step not yet saved: not measured again
        return {"candidates": {state["current"]: json.loads(outcome.read_text())}}
    binary, work = binary_of(cand)
    meter = choose_meter(state["language"], ctx.gpu)
    limit = time_limit(state, ctx)
    sandbox = sandbox_for(ctx, state["language"])
    first_runs = FirstRuns(state, ctx)  # the output checked on the first runs, before the rest are measured

    def run() -> RunResult:
        result = run_program(line_buffered([str(binary), *state.get("args", [])]), work, limit, env=meter.child_env(),
                             sandbox=sandbox)
        first_runs.seen(result)
        return result

    policy = RepeatPolicy(ctx.min_repeats, ctx.max_repeats, ctx.target_ci, ctx.repeat_budget_s)
    tell = get_stream_writer()
    name = f"{label(cand)} {cand['origin']}"
    rejected = ""
    try:
        result, measurement = measure(meter, run, policy,
                                      on_repeat=lambda k: tell({"measuring": f"{name}: {policy.describe_repeat(k)}"}))
    except RejectedEarly as early:  # not worth measuring: the judge's output layer will say why
        result, measurement, rejected = early.result, None, early.reason
    write_text(folder / "stdout.txt", result.stdout)
    write_text(folder / "stderr.txt", result.stderr)
    run_info = {**result.to_dict(), "time_limit_s": limit, "containment": sandbox.describe(),
                "stdout_path": str(folder / "stdout.txt"),
                "stderr_path": str(folder / "stderr.txt")}
    if first_runs.notice:
        run_info["notice"] = first_runs.notice
    if rejected:
        record = {**cand, "status": "ran", "reason": f"not measured: {rejected}", "run": run_info}
    elif measurement is not None:
        summary = measurement.summary()
        if measurement.write_trace(folder / "power.csv"):
            summary["trace_path"] = str(folder / "power.csv")
            title = (f"{label(cand)} ({cand['origin']}): net energy "
                     f"{with_interval(summary['stats']['net_energy_j'], 'J')} over {summary['repeats']} runs")
            summary["plot_path"] = str(plot_profile(folder / "power.csv", summary, folder / "power.png", title))
        write_json(folder / "measurement.json", summary)
        record = {**cand, "status": "ran", "reason": "", "run": run_info, "measurement": summary}
    else:
        status, reason = _failure(result, limit, cand, state.get("corrections", 0), ctx.max_corrections, folder)
        record = {**cand, "status": status, "reason": reason, "run": run_info}
    write_json(outcome, record)  # last of the node's files: its presence means all of them are complete
    return {"candidates": {state["current"]: record}}


def time_limit(state: State, ctx: Context) -> float:
    """The user's limit, or for candidates three times the source's runtime plus ten seconds."""
    if ctx.time_limit:
        return ctx.time_limit
    if state["current"] == SOURCE:
        return SOURCE_TIME_LIMIT_S
    return candidate_time_limit(source(state)["run"]["seconds"])


def candidate_time_limit(source_seconds: float) -> float:
    """A candidate may take three times what the source took, plus ten seconds."""
    return round(3 * source_seconds + 10, 1)


def _failure(result: RunResult, limit: float, cand: dict, corrections: int, budget: int,
             folder: Path) -> tuple[str, str]:
    """run_failed (a fix will be asked for) or discarded (budget spent); the source must run."""
    last_words = [line[:200] for line in [*result.stderr.strip().splitlines()[-1:], *result.stdout.strip().splitlines()[-2:]]]
    what = f"{result.failure(limit)}: {' / '.join(last_words) or 'no output'}"
    if cand["origin"] == "source":
        raise LassiError(f"the source {what} (output in {folder})")
    return failed_status("run", f"it {what}", corrections, budget)
