"""The cheap checks made on a program's first runs, through the CLI and the graph: a source whose own check
says FAIL stops Stage 0 with one line before any model is asked, and a candidate whose first run already
prints another result is run once and never measured."""

from __future__ import annotations

import json
from pathlib import Path

from app.api import optimize
from tests.helpers.cli import lassi, one_clear_line
from tests.helpers.programs import VALID, answer, sleeper

RUN_COUNTER = 'std::FILE* runs = std::fopen("runs.log", "a"); std::fputs("run\\n", runs); std::fclose(runs);\n    '


def test_a_source_printing_fail_stops_at_stage_0_with_one_line_before_any_model_is_asked(program, tmp_path):
    (program / "main.cpp").write_text(sleeper(20).replace('"PASS" : "FAIL"', '"FAIL" : "PASS"'))
    session = tmp_path / "empty-session.json"
    session.write_text(json.dumps({"about": "no answers: a model asked would fail", "responses": {}}))
    result = lassi("optimize", str(program), "--args", "100", "--model", f"scripted:{session}", "--repeats", "2", cwd=tmp_path)
    # a model asked would have failed with its own message: the session has no answers
    one_clear_line(result, "the source's own output reports a failure ('FAIL')", "--accept-failing-source")


def test_a_failing_source_is_profiled_when_the_user_accepts_it(program, tmp_path):
    (program / "main.cpp").write_text(sleeper(20).replace('"PASS" : "FAIL"', '"FAIL" : "PASS"'))
    result = lassi("profile", str(program), "--args", "100", "--repeats", "2", "--accept-failing-source", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_candidate_whose_first_run_prints_another_result_is_run_once_and_not_measured(program, session, settings):
    counted_wrong = sleeper(40, "output").replace("long s = sum_to(n) + 1;", RUN_COUNTER + "long s = sum_to(n) + 1;")
    model = session({"coder": [answer(counted_wrong), answer(sleeper(320))], "judge": [VALID], "planner": ["plan"],
                     "reporter": ["comparison"]})
    result = optimize(program, ["100"], **settings(model, max_iterations=1, min_repeats=3, max_repeats=3))
    cheat = result.state["candidates"]["001"]
    assert (Path(cheat["dir"]) / "work" / "runs.log").read_text() == "run\n"  # one run, not three
    assert "measurement" not in cheat and cheat["reason"].startswith("not measured: its first run's output")
    assert cheat["outcome"] == "invalid" and "5051" in cheat["outcome_reason"]
