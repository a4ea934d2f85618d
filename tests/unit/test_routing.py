"""Every routing decision of the graph, as pure functions of the state and as comparator decisions."""

from __future__ import annotations

import pytest
from langgraph.graph import END
from langgraph.runtime import Runtime

from graph.context import make_context
from graph.routing import after_build, after_compare, after_run
from nodes import comparator
from tools.energy.decision import Comparison, screening_verdict
from tools.energy.measurement import Pairs, Reading


def state_with(status: str, current: str = "001", **extra) -> dict:
    return {"current": current, "candidates": {current: {"status": status}}, **extra}


@pytest.mark.parametrize("status, edge", [("built", "executor"), ("build_failed", "coder"), ("discarded", "comparator")])
def test_after_build(status, edge):
    assert after_build(state_with(status)) == edge


@pytest.mark.parametrize("status, edge", [("ran", "judge"), ("run_failed", "coder"), ("discarded", "comparator")])
def test_after_run(status, edge):
    assert after_run(state_with(status)) == edge


def test_the_source_goes_from_executor_straight_to_the_comparator():
    assert after_run(state_with("ran", current="000")) == "comparator"


@pytest.mark.parametrize("decision, edge", [("zero_shot", "coder"), ("retry", "coder"), ("context", "summarizer"),
                                            ("new_plan", "planner"), ("report", "reporter"), ("done", END)])
def test_after_compare_follows_the_comparators_decision(decision, edge):
    assert after_compare({"next_step": decision}) == edge


# ---- the comparator's decisions --------------------------------------------------------------------------------

def measured(version: int, seconds: float, valid: bool = True, status: str = "judged", spread: float = 0.005,
             runs: int = 3) -> dict:
    """A judged candidate whose runs lie evenly within ±spread of `seconds`."""
    offsets = [spread * (2 * i / (runs - 1) - 1) for i in range(runs)] if runs > 1 else [0.0]
    readings = [{"duration_s": seconds * (1 + o)} for o in offsets]
    return {"version": version, "key": f"{version:03d}", "origin": "source" if version == 0 else "plan-step",
            "status": status, "reason": "build failed and the correction budget (1) is spent" if status == "discarded" else "",
            "measurement": {"objective": "duration_s", "stats": {"duration_s": {"mean": seconds}}, "readings": readings,
                            "comparison": against_the_best(seconds, offsets)},
            "validation": {"valid": valid, "checks": [{"name": "judge", "ok": valid, "reason": "said so"}]}}


def against_the_best(seconds: float, offsets: list[float], best_seconds: float = 1.0) -> dict:
    """The executor's comparison of runs at `seconds` with the best's at 1 s, the same runs in both rounds."""
    new = [Reading(duration_s=seconds * (1 + o)) for o in offsets]
    old = [Reading(duration_s=best_seconds * (1 - o)) for o in offsets]
    settled = screening_verdict(make_context().decision_rule(), [r.duration_s for r in new], [r.duration_s for r in old],
                                0.0) or ("not_better", "unsettled")
    pairs = Pairs(new, old)
    return Comparison("duration_s", pairs, *settled, confirmation=pairs if settled[0] == "promising" else None).summary()


def compare(candidate: dict, best_seconds: float = 1.0, stage: str = "refine", temperature: float = 0.2,
            iterations: int = 0, **settings) -> dict:
    state = {"current": candidate["key"], "best": "000", "stage": stage, "temperature": temperature,
             "iterations": iterations, "candidates": {"000": measured(0, best_seconds), candidate["key"]: candidate}}
    return comparator.node(state, Runtime(context=make_context(**settings)))


def test_source_becomes_the_baseline_and_zero_shot_follows():
    update = compare(measured(0, 1.0))
    assert update["best"] == "000" and update["next_step"] == "zero_shot" and update["temperature"] == 0.2


def test_profile_only_stops_after_the_source():
    assert compare(measured(0, 1.0), stop_after_profile=True)["next_step"] == "done"


def test_zero_shot_result_leads_to_context_building_whether_better_or_not():
    assert compare(measured(1, 0.5), stage="zero_shot")["next_step"] == "context"
    assert compare(measured(1, 2.0), stage="zero_shot")["next_step"] == "context"


def test_better_candidate_becomes_best_and_asks_for_a_new_plan():
    update = compare(measured(1, 0.5))
    assert update["best"] == "001" and update["next_step"] == "new_plan" and update["temperature"] == 0.2


def test_not_better_raises_the_temperature_and_retries_the_same_plan():
    update = compare(measured(1, 0.99))
    assert update["candidates"]["001"]["outcome"] == "not_better"
    assert "best" not in update and update["next_step"] == "retry" and update["temperature"] == 0.4


def test_improvement_below_the_minimum_is_not_better():
    assert compare(measured(1, 0.97), min_improvement=0.05)["candidates"]["001"]["outcome"] == "not_better"


def test_a_saving_within_the_noise_is_not_better():
    update = compare(measured(1, 0.95, spread=0.10))  # 5% less on average, but runs spread ±10%
    assert update["candidates"]["001"]["outcome"] == "not_better"
    assert "screening" in update["candidates"]["001"]["outcome_reason"]


def test_one_run_each_is_never_enough_to_be_better():
    assert compare(measured(1, 0.5, runs=1))["candidates"]["001"]["outcome"] == "not_better"


def test_a_better_verdict_gives_the_change_with_its_interval():
    reason = compare(measured(1, 0.5))["candidates"]["001"]["outcome_reason"]
    assert "-50.0%" in reason and "confirmation" in reason


def test_invalid_candidate_retries_the_same_plan_at_a_higher_temperature():
    update = compare(measured(1, 0.1, valid=False))
    assert update["candidates"]["001"]["outcome"] == "invalid"
    assert "best" not in update and update["next_step"] == "retry" and update["temperature"] == 0.4


def test_discarded_candidate_counts_as_a_miss():
    update = compare(measured(1, 0.1, status="discarded"))
    assert update["candidates"]["001"]["outcome"] == "discarded" and update["next_step"] == "retry"


def test_temperature_passing_the_ceiling_goes_to_the_reporter():
    assert compare(measured(1, 2.0), temperature=0.6)["next_step"] == "retry"  # 0.8 is not above 0.8
    update = compare(measured(1, 2.0), temperature=0.8)
    assert update["next_step"] == "report" and update["stop_reason"] == (
        "Stage 3 ended: 4 candidates without a saving used up the temperature schedule 0.2→0.8 (+0.2 after each)")


def test_iteration_budget_goes_to_the_reporter_even_after_a_better_candidate():
    update = compare(measured(1, 0.5), iterations=2, max_iterations=3)
    assert update["best"] == "001" and update["next_step"] == "report" and "budget" in update["stop_reason"]
