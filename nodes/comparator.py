"""`comparator`: register the candidate's outcome, update the best, move the temperature, decide next.

Outcomes: baseline (the source), better, not_better, invalid, discarded. Decisions (next_step):
zero_shot after Stage 0; context after Stage 1; then in Stage 3 new_plan on a new best, retry (same
plan, temperature + step) otherwise, and report once the temperature passes its ceiling or the
iteration budget is spent.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import SOURCE, State, best, current, label, source
from nodes.shared.extraordinary import weigh_extraordinary
from tools.energy.measurement import run_values
from tools.energy.stats import relative_change


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    cand = current(state)
    if cand["key"] == SOURCE:
        record = {**cand, "outcome": "baseline", "outcome_reason": "the source, measured in Stage 0"}
        if ctx.stop_after_profile:
            return {"candidates": {SOURCE: record}, "best": SOURCE, "stage": "done", "next_step": "done",
                    "stop_reason": "profile only"}
        return {"candidates": {SOURCE: record}, "best": SOURCE, "stage": "zero_shot", "coder_mode": "zero_shot",
                "next_step": "zero_shot", "temperature": ctx.temperature_start}

    outcome, why = assess(cand, best(state), ctx.min_improvement)
    outcome, why, marks = weigh_extraordinary(cand, source(state), outcome, why, ctx.extraordinary_saving)
    update: dict = {"candidates": {cand["key"]: {**cand, "outcome": outcome, "outcome_reason": why, **marks}},
                    "coder_mode": "step", "corrections": 0}
    if outcome == "better":
        update["best"] = cand["key"]
    if state["stage"] == "zero_shot":
        return {**update, "stage": "refine", "next_step": "context"}

    iterations = state.get("iterations", 0) + 1
    temperature = state["temperature"]
    next_step = "new_plan"
    if outcome != "better":
        temperature = round(temperature + ctx.temperature_step, 6)
        next_step = "retry"
    if temperature > ctx.temperature_ceiling:
        next_step, update["stop_reason"] = "report", schedule_spent(temperature, ctx)
    elif iterations >= ctx.max_iterations:
        next_step, update["stop_reason"] = "report", f"Stage 3 ended: the iteration budget ({ctx.max_iterations}) is spent"
    return {**update, "iterations": iterations, "temperature": temperature, "next_step": next_step}


def schedule_spent(temperature: float, ctx: Context) -> str:
    """Why the temperature schedule ended Stage 3, in the words of the schedule: each miss raised it one step."""
    misses = round((temperature - ctx.temperature_start) / ctx.temperature_step)
    return (f"Stage 3 ended: {misses} candidate{'s' * (misses != 1)} without a saving used up the temperature schedule"
            f" {ctx.temperature_start:g}→{ctx.temperature_ceiling:g} (+{ctx.temperature_step:g} after each)")


def assess(cand: dict, incumbent: dict, min_improvement: float) -> tuple[str, str]:
    """How a candidate fares against the best so far, with the reason in words.

    Better means a saving that is significant (the whole 95% interval of the change lies below
    zero) and at least `min_improvement` large: one lucky run, or a saving within the noise, is not
    an improvement.
    """
    if cand["status"] == "discarded":
        return "discarded", cand["reason"]
    validation = cand.get("validation") or {}
    if not validation.get("valid"):
        failed = next((c for c in validation.get("checks", []) if c["ok"] is False), None)
        return "invalid", (f"{failed['name']}: {failed['reason']}" if failed
                           else f"not valid: {validation['why_not']}" if validation.get("why_not") else "not validated")
    metric = cand["measurement"]["objective"]
    mine, theirs = run_values(cand["measurement"], metric), run_values(incumbent["measurement"], metric)
    if not mine or not theirs or sum(theirs) <= 0:
        return "not_better", f"no {metric} to compare"
    delta = relative_change(mine, theirs)
    figures = (f"{metric} {sum(mine) / len(mine):.4g} against {sum(theirs) / len(theirs):.4g} for "
               f"{label(incumbent)}: {delta.change:+.1%} (95% interval {delta.low:+.1%} to {delta.high:+.1%})")
    if not delta.high < 0:
        return "not_better", f"{figures}; not a significant saving"
    if -delta.change < min_improvement:
        return "not_better", f"{figures}; a saving of at least {min_improvement:.1%} is needed"
    return "better", figures
