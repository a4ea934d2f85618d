"""The decision rule: alternating pairs, sequential screening, confirmation on fresh runs, a run-wide budget."""

from __future__ import annotations

import pytest
from langgraph.runtime import Runtime

from graph.context import make_context
from nodes import comparator
from tools.energy.decision import NOT_BETTER, PROMISING, Comparison, Rule, compare, decide, screening_verdict
from tools.energy.measurement import Pairs, Reading, measure_pairs
from tools.energy.meters import TimeMeter
from tools.sandbox.runner import RunResult

RULE = Rule(min_pairs=3, max_pairs=6, target_ci=0.02, min_improvement=0.02, error_budget=0.05)


class ListedMeter(TimeMeter):
    """The time meter, keeping the order programs ran in; a stand-in program's runtime is its objective."""

    def __init__(self):
        self.order: list[str] = []


def program(name: str, values: list[float], meter: ListedMeter | None = None):
    """A stand-in program whose i-th run takes values[i] seconds (by its own clock)."""
    runs = iter(values)

    def run() -> RunResult:
        if meter is not None:
            meter.order.append(name)
        return RunResult(exit_code=0, stdout="", stderr="", seconds=next(runs))

    return run


def test_candidate_and_incumbent_run_alternately_in_one_window():
    meter = ListedMeter()
    pairs = measure_pairs(meter, program("A", [1.0] * 4, meter), program("B", [2.0] * 4, meter),
                          lambda p, _: "four pairs" if len(p.new) == 4 else None)
    assert meter.order == ["A", "B"] * 4 and [r.duration_s for r in pairs.old] == [2.0] * 4


def test_a_clear_loss_stops_screening_at_the_minimum_with_no_confirmation():
    meter = ListedMeter()
    found = compare(meter, program("A", [1.3, 1.31, 1.29] * 4, meter), program("B", [1.0, 1.01, 0.99] * 4, meter), RULE)
    assert found.verdict == NOT_BETTER and found.confirmation is None and len(meter.order) == 6


def test_a_clear_saving_is_screened_in_three_pairs_then_confirmed_on_fresh_pairs():
    meter = ListedMeter()
    found = compare(meter, program("A", [0.8, 0.81, 0.79] * 4), program("B", [1.0, 1.01, 0.99] * 4), RULE)
    assert found.verdict == PROMISING and len(found.screening.new) == 3 and len(found.confirmation.new) == 6
    better, words = decide(found.summary(), RULE, 1)
    assert better and "over 6 fresh pairs" in words


def test_a_lucky_screening_is_not_enough_when_the_fresh_runs_show_no_saving():
    lucky = Pairs([Reading(duration_s=v) for v in (0.8, 0.8, 0.8)], [Reading(duration_s=1.0)] * 3)
    sober = Pairs([Reading(duration_s=v) for v in (1.0, 1.01, 0.99, 1.0)], [Reading(duration_s=v) for v in (1.0, 0.99, 1.01, 1.0)])
    summary = Comparison("duration_s", lucky, PROMISING, "looked better", confirmation=sober).summary()
    better, words = decide(summary, RULE, 1)
    assert not better and "not confirmed" in words


def test_screening_alone_never_declares_a_candidate_better():
    screened_only = Pairs([Reading(duration_s=0.5)] * 3, [Reading(duration_s=1.0)] * 3)
    assert decide(Comparison("duration_s", screened_only, PROMISING, "x").summary(), RULE, 1)[0] is False


SAVING_NEW, SAVING_OLD = [0.8, 0.81, 0.79] * 4, [1.0, 1.01, 0.99] * 4  # screened in 3 pairs, confirmed on 6


class Killed(Exception):
    """Stands for the kill: raised once the barrier's pair has been kept, as SIGKILL would end the process there."""


def killed_after(pairs: int) -> tuple[dict, list]:
    """Compare the saving until `pairs` pairs are kept, then kill: what was kept, as the executor reads it back."""
    kept: list = []

    def keep(round_name, new, old, elapsed_s):
        kept.append((round_name, new, old, elapsed_s))
        if len(kept) == pairs:
            raise Killed

    with pytest.raises(Killed):
        compare(ListedMeter(), program("A", SAVING_NEW), program("B", SAVING_OLD), RULE, on_pair=keep)
    rounds: dict[str, Pairs] = {}
    for round_name, new, old, elapsed_s in kept:
        rounds.setdefault(round_name, Pairs([], [])).new.append(new)
        rounds[round_name].old.append(old)
        rounds[round_name].wall_s = elapsed_s
    return rounds, kept


@pytest.mark.parametrize("kill_after", [2, 3, 5])  # inside the screening, as it settles, inside the confirmation
def test_a_resumed_comparison_goes_on_from_the_kept_pairs_to_the_figures_of_an_unbroken_one(kill_after):
    unbroken = compare(ListedMeter(), program("A", SAVING_NEW), program("B", SAVING_OLD), RULE).summary()
    kept, _ = killed_after(kill_after)
    meter = ListedMeter()
    resumed = compare(meter, program("A", SAVING_NEW[kill_after:], meter), program("B", SAVING_OLD[kill_after:], meter),
                      RULE, kept)
    assert len(meter.order) == 2 * (9 - kill_after)  # only the pairs not kept are run
    for round_name in ("screening", "confirmation"):
        assert resumed.summary()[round_name]["new"] == unbroken[round_name]["new"]
        assert resumed.summary()[round_name]["old"] == unbroken[round_name]["old"]
    assert resumed.verdict == PROMISING and decide(resumed.summary(), RULE, 1)[0] and resumed.last_run is not None


def test_kept_unfavourable_pairs_stay_in_the_figures_a_resume_cannot_draw_them_again():
    bad = {"screening": Pairs([Reading(duration_s=1.3)] * 2, [Reading(duration_s=1.0)] * 2, wall_s=1.0)}
    meter = ListedMeter()
    found = compare(meter, program("A", [0.8] * 12, meter), program("B", [1.0] * 12, meter), RULE, bad)
    assert found.summary()["screening"]["new"][:2] == [1.3, 1.3]  # the kept losses open the screening's figures


def test_when_the_kept_pairs_settle_every_round_the_candidate_runs_once_unmeasured_for_its_output():
    kept, _ = killed_after(9)  # the confirmation's last pair, kept just before the kill
    meter = ListedMeter()
    found = compare(meter, program("A", [0.8], meter), program("B", [], meter), RULE, kept)
    assert meter.order == ["A"] and found.last_run is not None  # one run of the candidate, none of the incumbent
    assert len(found.confirmation.new) == 6 and decide(found.summary(), RULE, 1)[0]


def test_the_kept_pairs_time_counts_against_the_budget():
    slow = Rule(min_pairs=3, max_pairs=6, budget_s=5.0)
    spent = {"screening": Pairs([Reading(duration_s=v) for v in (1.0, 1.2, 0.8)],
                                [Reading(duration_s=v) for v in (1.0, 0.8, 1.2)], wall_s=6.0)}
    found = compare(ListedMeter(), program("A", [1.0] * 12), program("B", [1.0] * 12), slow, spent)
    assert found.verdict == NOT_BETTER and "time budget" in found.reason and len(found.screening.new) == 3


def test_a_drift_shared_by_the_pair_cancels():
    levels = [1.0, 1.15, 0.9, 1.2, 0.95, 1.1]  # the machine's pace in each pair's window: ±15%
    verdict, _ = screening_verdict(RULE, [0.9 * lv for lv in levels[:3]], [lv for lv in levels[:3]], 0.0)
    assert verdict == PROMISING


def test_the_same_program_in_both_seats_is_settled_as_not_better():
    values = [1.0, 1.02, 0.98, 1.01, 0.99, 1.0]
    verdict, why = screening_verdict(RULE, values, list(reversed(values)), 0.0) or (None, "")
    assert verdict == NOT_BETTER


def test_each_confirmation_spends_half_of_what_is_left_so_the_run_never_exceeds_its_budget():
    assert [RULE.alpha(k) for k in (1, 2, 3)] == pytest.approx([0.025, 0.0125, 0.00625])
    assert sum(RULE.alpha(k) for k in range(1, 200)) <= RULE.error_budget


def test_a_later_confirmation_is_held_to_a_stricter_level():
    new = [Reading(duration_s=v) for v in (0.95, 0.99, 0.96, 0.93, 0.975, 0.955)]
    old = [Reading(duration_s=v) for v in (1.0, 0.99, 1.01, 0.985, 1.0, 1.005)]
    summary = Comparison("duration_s", Pairs(new, old), PROMISING, "x", confirmation=Pairs(new, old)).summary()
    assert decide(summary, RULE, 1)[0] and not decide(summary, RULE, 6)[0]


def test_the_comparator_counts_the_runs_confirmations_and_only_valid_ones():
    new = [Reading(duration_s=v) for v in (0.5, 0.51, 0.49)]
    old = [Reading(duration_s=v) for v in (1.0, 1.01, 0.99)]
    summary = Comparison("duration_s", Pairs(new, old), PROMISING, "x", confirmation=Pairs(new, old)).summary()

    def candidate(key: str, valid: bool, **extra) -> dict:
        return {"key": key, "version": int(key), "status": "judged", "measurement": {"comparison": summary},
                "validation": {"valid": valid, "checks": [{"name": "judge", "ok": valid, "reason": "said so"}]}, **extra}

    state = {"current": "004", "best": "000", "stage": "refine", "temperature": 0.2, "iterations": 0,
             "candidates": {"000": {"key": "000"}, "001": candidate("001", True, confirmation_round=1),
                            "002": candidate("002", False), "003": candidate("003", True, confirmation_round=2),
                            "004": candidate("004", True)}}
    update = comparator.node(state, Runtime(context=make_context()))
    record = update["candidates"]["004"]
    assert record["outcome"] == "better" and record["confirmation_round"] == 3 and "level 99.38%" in record["outcome_reason"]
