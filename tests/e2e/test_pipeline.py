"""The whole graph on a real C++ program with scripted models: each loop, as a user would see it."""

from __future__ import annotations

import json

from app.api import optimize
from tests.helpers.programs import INVALID, VALID, answer, sleeper

FAST, SOURCE_SPEED, SLOW = 40, 200, 320  # milliseconds the test program waits


def run(program, model: str, settings, **overrides):
    trail: list[tuple[str, str]] = []
    result = optimize(program, ["100"], on_step=lambda node, update, state: trail.append((node, state.get("current"))),
                      **settings(model, **overrides))
    return result, trail


def test_a_build_error_goes_back_to_the_coder_as_a_fix(program, session, settings):
    model = session({"coder": [answer(sleeper(FAST, "build")), answer(sleeper(FAST)), answer(sleeper(SLOW))],
                     "judge": [VALID] * 2, "planner": ["plan"], "reporter": ["comparison"]})
    result, trail = run(program, model, settings, max_iterations=1)
    broken, fixed = result.state["candidates"]["001"], result.state["candidates"]["002"]
    assert broken["status"] == "build_failed" and "error" in broken["reason"]
    assert fixed["origin"] == "fix" and fixed["parent"] == "001" and fixed["outcome"] == "better"
    assert ("compiler", "001") in trail and ("coder", "002") in trail
    fix_prompt = [r for r in _log(result) if r["key"] == "coder"][1]["prompt"]
    assert "failed to build" in fix_prompt and "error" in fix_prompt


def test_a_run_error_goes_back_to_the_coder_as_a_fix(program, session, settings):
    model = session({"coder": [answer(sleeper(FAST, "crash")), answer(sleeper(FAST)), answer(sleeper(SLOW))],
                     "judge": [VALID] * 2, "planner": ["plan"], "reporter": ["comparison"]})
    result, _ = run(program, model, settings, max_iterations=1)
    crashed, fixed = result.state["candidates"]["001"], result.state["candidates"]["002"]
    assert crashed["status"] == "run_failed" and "SIGABRT" in crashed["reason"]
    assert fixed["origin"] == "fix" and fixed["outcome"] == "better"
    assert "failed to run" in [r for r in _log(result) if r["key"] == "coder"][1]["prompt"]


def test_a_spent_correction_budget_discards_the_candidate_and_moves_on(program, session, settings):
    broken = answer(sleeper(FAST, "build"))
    model = session({"coder": [broken, broken, answer(sleeper(SLOW))], "judge": [VALID],
                     "planner": ["plan"], "reporter": ["comparison"]})
    result, trail = run(program, model, settings, max_iterations=1, max_corrections=1)
    last_fix = result.state["candidates"]["002"]
    assert last_fix["status"] == "discarded" and last_fix["outcome"] == "discarded"
    assert "correction budget (1)" in last_fix["reason"]
    assert trail[trail.index(("comparator", "002")) + 1][0] == "summarizer"  # Stage 1 over: on to Stage 2
    assert result.best["key"] == "000"


def test_invalid_candidate_is_rejected_and_the_same_plan_is_tried_again(program, session, settings):
    model = session({"coder": [answer(sleeper(SLOW)), answer(sleeper(FAST)), answer(sleeper(FAST))],
                     "judge": [VALID, INVALID, VALID], "planner": ["plan one", "plan two"], "reporter": ["comparison"]})
    result, _ = run(program, model, settings, max_iterations=2)
    rejected, accepted = result.state["candidates"]["002"], result.state["candidates"]["003"]
    assert rejected["outcome"] == "invalid" and "INVALID" in rejected["outcome_reason"]
    assert rejected["plan"] == accepted["plan"] == 1
    assert accepted["temperature"] == 0.4 and accepted["outcome"] == "better"


def test_output_that_differs_is_invalid_without_asking_the_judge(program, session, settings):
    model = session({"coder": [answer(sleeper(FAST, "output")), answer(sleeper(SLOW))], "judge": [VALID],
                     "planner": ["plan"], "reporter": ["comparison"]})
    result, _ = run(program, model, settings, max_iterations=1)
    wrong = result.state["candidates"]["001"]
    assert wrong["outcome"] == "invalid" and "5050 became 5051" in wrong["outcome_reason"]
    assert [c["ok"] for c in wrong["validation"]["checks"]] == [True, False, None]
    assert sum(r["key"] == "judge" for r in _log(result)) == 1  # only v002 reached the model


def test_a_new_best_brings_a_new_plan_and_a_miss_raises_the_temperature_until_the_ceiling(program, session, settings):
    model = session({"coder": [answer(sleeper(SOURCE_SPEED)), answer(sleeper(FAST))] + [answer(sleeper(SLOW))] * 4,
                     "judge": [VALID] * 6, "planner": ["plan one", "plan two"], "reporter": ["comparison"]})
    result, trail = run(program, model, settings)
    c = result.state["candidates"]
    assert c["002"]["outcome"] == "better" and trail[trail.index(("comparator", "002")) + 1][0] == "planner"
    assert [c[k]["plan"] for k in ("003", "004", "005", "006")] == [2, 2, 2, 2]
    assert [c[k]["temperature"] for k in ("002", "003", "004", "005", "006")] == [0.2, 0.2, 0.4, 0.6, 0.8]
    assert result.state["stop_reason"] == ("Stage 3 ended: 4 candidates without a saving used up the"
                                        " temperature schedule 0.2→0.8 (+0.2 after each)")
    assert trail[-1][0] == "reporter" and result.best["key"] == "002"


def test_the_iteration_budget_ends_the_run(program, session, settings):
    model = session({"coder": [answer(sleeper(SLOW))] * 3, "judge": [VALID] * 3, "planner": ["plan"],
                     "reporter": ["comparison"]})
    result, trail = run(program, model, settings, max_iterations=2)
    assert result.state["stop_reason"] == "Stage 3 ended: the iteration budget (2) is spent" and len(result.candidates) == 4
    assert trail[-1][0] == "reporter"


def test_a_run_leaves_a_complete_run_directory(program, session, settings):
    model = session({"coder": [answer(sleeper(FAST)), answer(sleeper(SLOW))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["The refactoring waits less."]})
    result, _ = run(program, model, settings, max_iterations=1)
    d = result.run_dir
    for name in ("run.json", "checkpoints.sqlite", "llm.jsonl", "report.md", "best/main.cpp", "best/work.h"):
        assert (d / name).exists(), name
    assert sorted(p.name for p in (d / "candidates").iterdir()) == ["v000-source", "v001-zero-shot", "v002-plan-step"]
    for name in ("main.cpp", "build.log", "stdout.txt", "measurement.json"):
        assert (d / "candidates" / "v001-zero-shot" / name).exists(), name
    report = result.report_path.read_text()
    assert "Best candidate: v001" in report and "The refactoring waits less." in report
    config = json.loads((d / "run.json").read_text())
    assert config["args"] == ["100"] and config["context"]["max_iterations"] == 1 and config["versions"]["langgraph"]
    exchange = _log(result)[0]
    assert {"role", "prompt", "response", "tokens_in", "tokens_out", "latency_s", "temperature_sent"} <= exchange.keys()


def _log(result) -> list[dict]:
    return [json.loads(line) for line in (result.run_dir / "llm.jsonl").read_text().splitlines()]


def test_answers_without_code_are_asked_again_with_the_request_and_spend_no_correction(program, session, settings):
    model = session({"coder": ["I would hoist the loop.", "Still only words.", answer(sleeper(FAST)),
                               answer(sleeper(SLOW))], "judge": [VALID] * 2, "planner": ["plan"],
                     "reporter": ["comparison"]})
    result, _ = run(program, model, settings, max_iterations=1, max_corrections=2)
    c = result.state["candidates"]
    assert c["001"]["answer"]["fixes"] == 2 and c["001"]["outcome"] == "better" and c["001"]["origin"] == "zero-shot"
    assert c["001"]["answer"]["problems"] == ["the answer held no code block, unified diff or SEARCH/REPLACE block"] * 2
    third_prompt = [r for r in _log(result) if r["key"] == "coder"][2]["prompt"]
    assert "could not be applied" in third_prompt and "sum_to(n)" in third_prompt


def test_a_run_directory_inside_the_program_folder_is_not_copied_into_workspaces(program, session, settings):
    model = session({"coder": [answer(sleeper(FAST)), answer(sleeper(SLOW))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    result, _ = run(program, model, settings, max_iterations=1, runs_root=str(program / "lassi-runs"))
    assert result.finished
    assert not list((result.run_dir / "candidates" / "v001-zero-shot" / "work").glob("lassi-runs"))


def test_resume_starts_a_run_that_stopped_before_its_first_checkpoint(program, session, settings):
    from app.api import resume
    from graph.context import make_context
    from graph.record import run_record
    from tools.program import load_program
    from tools.rundir import RunDir, write_json

    model = session({"coder": [answer(sleeper(FAST)), answer(sleeper(SLOW))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    run_dir = RunDir.create("unused", "sleeper", path=program.parent / "run")
    write_json(run_dir.config, run_record(load_program(program), ["100"], make_context(**settings(model, max_iterations=1))))
    result = resume(run_dir.path)
    assert result.finished and result.best["key"] == "001"


def test_an_answer_hard_coded_for_the_main_arguments_fails_on_the_extra_ones_and_the_report_says_so(
        program, session, settings):
    hard_coded = sleeper(FAST).replace("long s = sum_to(n);", "long s = 5050;  // the answer for n = 100")
    model = session({"coder": [answer(hard_coded), answer(sleeper(SLOW))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    result, _ = run(program, model, settings, max_iterations=1, check_args=["7", "33"])
    cheat = result.state["candidates"]["001"]
    assert [(c["name"], c["ok"]) for c in cheat["validation"]["checks"]] == [
        ("runs", True), ("output", True), ("check-args", False), ("judge", None)]
    assert "with arguments '7': line 1: 28 became 5050" in cheat["outcome_reason"]
    assert [r["args"] for r in result.source["check_runs"]] == ["7", "33"]
    report = result.report_path.read_text()
    assert "- **v001** (zero-shot): invalid" in report and "  - check-args: FAIL — with arguments '7'" in report
    assert "- **v002** (plan-step): valid" in report and "  - check-args: pass — the output agrees on 2" in report
    assert "Work of source and best" in report and "| instructions executed |" in report
    planner_prompt = next(r["prompt"] for r in _log(result) if r["key"] == "planner")
    assert "Where its work goes" in planner_prompt and "| instructions executed |" in planner_prompt
