"""`comparator`: register the candidate's outcome, update the best, move the temperature, decide next.

Outcomes: baseline (the source), better, not_better, invalid, discarded. Decisions (next_step):
zero_shot after Stage 0; context after Stage 1; then in Stage 3 new_plan on a new best, retry (same
plan, temperature + step) otherwise, and report once the temperature passes its ceiling or the
iteration budget is spent. Whether a candidate is better is tools/energy/decision.py's rule, on the
runs the executor measured alternately with the best.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import SOURCE, State, current, source
from nodes.shared.extraordinary import weigh_extraordinary
from tools.energy.decision import PROMISING, Rule, decide, host_shift


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

    record = with_host_check(cand, ctx.host_cpu_factor, ctx.strict_workload)
    outcome, why, round_number = assess(record, ctx.decision_rule(), confirmations_so_far(state) + 1)
    outcome, why, marks = weigh_extraordinary(record, source(state), outcome, why, ctx.extraordinary_saving)
    record = {**record, "outcome": outcome, "outcome_reason": why, **marks,
              **({"confirmation_round": round_number} if round_number else {})}
    update: dict = {"candidates": {cand["key"]: record}, "coder_mode": "step", "corrections": 0}
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


def confirmations_so_far(state: State) -> int:
    """Confirmation tests the run has spent its error budget on: one per valid candidate confirmed."""
    return sum(1 for c in state["candidates"].values() if c.get("confirmation_round") and c["key"] != state["current"])


def schedule_spent(temperature: float, ctx: Context) -> str:
    """Why the temperature schedule ended Stage 3, in the words of the schedule: each miss raised it one step."""
    misses = round((temperature - ctx.temperature_start) / ctx.temperature_step)
    return (f"Stage 3 ended: {misses} candidate{'s' * (misses != 1)} without a saving used up the temperature schedule"
            f" {ctx.temperature_start:g}→{ctx.temperature_ceiling:g} (+{ctx.temperature_step:g} after each)")


def assess(cand: dict, rule: Rule, round_number: int) -> tuple[str, str, int | None]:
    """How a candidate fares against the best so far, the reason in words, and the confirmation it spent (if any)."""
    if cand["status"] == "discarded":
        return "discarded", cand["reason"], None
    validation = cand.get("validation") or {}
    if not validation.get("valid"):
        failed = next((c for c in validation.get("checks", []) if c["ok"] is False), None)
        return "invalid", (f"{failed['name']}: {failed['reason']}" if failed
                           else f"not valid: {validation['why_not']}" if validation.get("why_not")
                           else "not validated"), None
    comparison = (cand.get("measurement") or {}).get("comparison")
    if not comparison:
        return "not_better", "not measured against the best", None
    better, figures = decide(comparison, rule, round_number)
    spent = round_number if comparison["verdict"] == PROMISING and comparison.get("confirmation") else None
    return ("better" if better else "not_better"), f"{comparison['objective']}: {figures}", spent


def with_host_check(cand: dict, factor: float, strict: bool) -> dict:
    """The candidate with a host-share check among its validation checks where its CPU time grew as its GPU energy fell."""
    validation = cand.get("validation") or {}
    shift = host_shift((cand.get("measurement") or {}).get("comparison") or {}, factor)
    if not shift or not validation.get("valid"):
        return cand
    check = {"name": "host-share", "ok": False if strict else None, "flagged": True,
             "reason": shift + (" (rejected: --strict-workload)" if strict else "")}
    return {**cand, "validation": {**validation, "valid": not strict, "checks": [*validation["checks"], check]}}
