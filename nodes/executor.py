"""`executor`: run the built candidate under the meter, repeated, and keep its output and figures.

The source is measured alone; a candidate alternately with the best so far, screened and, where it
looks better, confirmed on fresh pairs (tools/energy/decision.py states the rule).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import SOURCE, State, best, current, failed_status, label, run_dir, source
from nodes.shared.containment import run_sandbox, task_cap
from nodes.shared.first_runs import FirstRuns, RejectedEarly
from nodes.shared.gpu_work import binary_of
from tools.energy import RepeatPolicy, choose_meter, measure
from tools.energy.decision import compare
from tools.energy.measurement import Measurement, Pairs, Reading
from tools.energy.metrics import with_interval
from tools.errors import LassiError
from tools.report.plots import plot_profile
from tools.rundir import append_jsonl, read_jsonl, write_json, write_recorded, write_text
from tools.sandbox import Sandbox
from tools.sandbox.runner import RunResult, line_buffered, run_program

SOURCE_TIME_LIMIT_S = 600.0
OUTCOME_FILE = "executed.json"  # the node's whole result for this candidate, with what it was made for
REPEATS_FILE = "repeats.jsonl"  # each finished repeat, with what it was made for, kept across a kill
PAIRS_FILE = "pairs.jsonl"  # each finished pair of a candidate and the best, with its round: kept likewise


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    cand = current(state)
    run_folder = run_dir(state)
    folder = run_folder.at(cand["dir"])
    binary, _ = binary_of(run_folder, cand)
    outcome, made_for = folder / OUTCOME_FILE, _outcome_key(state, ctx, cand, binary)
    if (kept := _kept_outcome(outcome, made_for)) is not None:  # measured before a kill: not measured again
        return {"candidates": {state["current"]: kept}}
    meter = choose_meter(state["language"], ctx.gpu)
    limit = time_limit(state, ctx)
    sandbox = run_sandbox(state, ctx)
    first_runs = FirstRuns(state, ctx)  # the output checked on the first runs, before the rest are measured
    peaks: list[int] = []  # the most processes and threads each run had at once

    def seen(result: RunResult) -> None:
        peaks.append(result.peak_tasks)
        first_runs.seen(result)

    run = program_runner(state, cand, meter, limit, sandbox, on_result=seen)
    tell = get_stream_writer()
    name = f"{label(cand)} {cand['origin']}"
    rejected = ""
    try:
        if state["current"] == SOURCE:
            result, measurement = _measure_source(ctx, meter, run, folder / REPEATS_FILE, made_for,
                                                  on_repeat=lambda text: tell({"measuring": f"{name}: {text}"}))
        else:
            result, measurement = _measure_against_best(state, ctx, meter, run, limit, sandbox, folder / PAIRS_FILE,
                                                        made_for)
    except RejectedEarly as early:  # not worth measuring: the judge's output layer will say why
        result, measurement, rejected = early.result, None, early.reason
    stdout_sha256 = write_recorded(folder / "stdout.txt", result.stdout)
    write_text(folder / "stderr.txt", result.stderr)
    run_info = {**result.to_dict(), "time_limit_s": limit, "containment": sandbox.describe(),
                "stdout_path": run_folder.relative(folder / "stdout.txt"), "stdout_sha256": stdout_sha256,
                "stderr_path": run_folder.relative(folder / "stderr.txt")}
    if first_runs.notice:
        run_info["notice"] = first_runs.notice
    if state["current"] == SOURCE:  # what its candidates may run at once follows from what it ran
        run_info["peak_tasks"] = max(peaks, default=result.peak_tasks)
        run_info["task_cap"] = task_cap(ctx, run_info["peak_tasks"])
    if rejected:
        record = {**cand, "status": "ran", "reason": f"not measured: {rejected}", "run": run_info}
    elif measurement is not None:
        summary = measurement.summary()
        if measurement.write_trace(folder / "power.csv"):
            summary["trace_path"] = run_folder.relative(folder / "power.csv")
            title = (f"{label(cand)} ({cand['origin']}): net energy "
                     f"{with_interval(summary['stats']['net_energy_j'], 'J')} over {summary['repeats']} runs")
            summary["plot_path"] = run_folder.relative(plot_profile(folder / "power.csv", summary, folder / "power.png",
                                                                    title))
        write_json(folder / "measurement.json", summary)
        record = {**cand, "status": "ran", "reason": "", "run": run_info, "measurement": summary}
    else:
        status, reason = _failure(result, limit, cand, state.get("corrections", 0), ctx.max_corrections, folder)
        record = {**cand, "status": status, "reason": reason, "run": run_info}
    write_json(outcome, {"made_for": made_for, "candidate": record})  # last: its presence means all are complete
    return {"candidates": {state["current"]: record}}


def _outcome_key(state: State, ctx: Context, cand: dict, binary: Path) -> str:
    """What an outcome depends on: the code, the binary built from it, the arguments and every setting.

    A replay from an earlier checkpoint with another answer, or a run resumed with other settings,
    measures again instead of taking over an outcome made for something else.
    """
    binary_sha256 = hashlib.sha256(binary.read_bytes()).hexdigest() if binary.is_file() else None
    made_of = {"code": cand.get("sha256"), "binary": binary_sha256, "args": state.get("args", []),
               "settings": ctx.to_dict()}
    return hashlib.sha256(json.dumps(made_of, sort_keys=True, default=str).encode()).hexdigest()


def _kept_repeats(path: Path, made_for: str) -> list[Reading]:
    """The repeats a killed measurement of exactly this code and these settings finished; others are dropped."""
    kept = [Reading.from_dict(r) for r in read_jsonl(path) if r.get("made_for") == made_for]
    if not kept:
        path.unlink(missing_ok=True)
    return kept


def _kept_outcome(path: Path, made_for: str) -> dict | None:
    """The outcome written for exactly this code, binary and settings, or None (absent, damaged, another's)."""
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return kept["candidate"] if isinstance(kept, dict) and kept.get("made_for") == made_for else None


def program_runner(state: State, cand: dict, meter, limit: float, sandbox: Sandbox,
                   on_result: Callable[[RunResult], None] | None = None) -> Callable[[], RunResult]:
    """One contained run of a candidate's built program in its workspace, with the run's arguments;
    `on_result` sees each run's result (the first-run checks)."""
    binary, work = binary_of(run_dir(state), cand)

    def run() -> RunResult:
        result = run_program(line_buffered([str(binary), *state.get("args", [])]), work, limit, env=meter.child_env(),
                             sandbox=sandbox)
        if on_result is not None:
            on_result(result)
        return result

    return run


def _measure_source(ctx: Context, meter, run: Callable[[], RunResult], repeats: Path, made_for: str,
                    on_repeat: Callable[[str], None]) -> tuple[RunResult, Measurement | None]:
    """The source's repeats (Stage 0), each written as it ends: a kill loses at most the one in flight;
    `on_repeat` hears "repeat k of n" as each starts."""
    policy = RepeatPolicy(ctx.min_repeats, ctx.max_repeats, ctx.target_ci, ctx.repeat_budget_s)

    def keep(reading: Reading) -> None:
        append_jsonl(repeats, {"made_for": made_for, **asdict(reading)})

    return measure(meter, run, policy, _kept_repeats(repeats, made_for), keep,
                   on_repeat=lambda k: on_repeat(policy.describe_repeat(k)))


def _measure_against_best(state: State, ctx: Context, meter, run, limit: float, sandbox: Sandbox, pairs: Path,
                          made_for: str) -> tuple[RunResult, Measurement | None]:
    """The candidate's runs, alternating with the best's, each pair written as it ends (a kill loses at most
    the one in flight, and a resume goes on from the rest: decision.compare says why that is fair); its
    measurement carries the comparison."""
    incumbent = best(state)
    made_for = hashlib.sha256(f"{made_for} against {incumbent['key']} {incumbent.get('sha256')}".encode()).hexdigest()

    def keep(round_name: str, new: Reading, old: Reading, elapsed_s: float) -> None:
        append_jsonl(pairs, {"made_for": made_for, "round": round_name, "elapsed_s": round(elapsed_s, 6),
                             "new": asdict(new), "old": asdict(old)})

    comparison = compare(meter, run, program_runner(state, incumbent, meter, limit, sandbox), ctx.decision_rule(),
                         _kept_pairs(pairs, made_for), keep)
    failed = comparison.failed
    if failed and failed.failed_side == "new":
        return failed.failed, None
    if failed:
        raise LassiError(f"the best so far, {label(incumbent)}, {failed.failed.failure(limit)} when run again"
                         f" beside a candidate (output in {incumbent['dir']})")
    return comparison.last_run, comparison.measurement(meter, incumbent["key"])


def _kept_pairs(path: Path, made_for: str) -> dict[str, Pairs]:
    """Each round's pairs a killed comparison of exactly this candidate, best and settings finished."""
    kept: dict[str, Pairs] = {}
    for line in read_jsonl(path):
        if line.get("made_for") == made_for:
            pairs = kept.setdefault(line["round"], Pairs([], []))
            pairs.new.append(Reading.from_dict(line["new"]))
            pairs.old.append(Reading.from_dict(line["old"]))
            pairs.wall_s = line["elapsed_s"]
    if not kept:
        path.unlink(missing_ok=True)
    return kept


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
