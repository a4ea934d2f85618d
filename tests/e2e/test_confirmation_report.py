"""Stage 4: source and best measured again on fresh pairs; the report's headline comes from those runs alone."""

from __future__ import annotations

from app.api import optimize
from tests.helpers.programs import VALID, answer, sleeper
from tools.energy.stats import paired_ratio
from tools.report.run_report import write_reports
from tools.rundir import RunDir

FAST, SLOW = 40, 320  # milliseconds the test program waits (the source waits 200)


def test_the_headline_saving_and_interval_come_from_the_confirmation_runs_alone(program, session, settings):
    model = session({"coder": [answer(sleeper(FAST)), answer(sleeper(SLOW))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["The refactoring waits less."]})
    result = optimize(program, ["100"], **settings(model, max_iterations=1, max_repeats=6, confirm_pairs=3))
    confirmation = result.state["confirmation"]
    assert confirmation["best"] == "001" and confirmation["pairs"] == 3 and len(confirmation["old"]) == 3
    change = paired_ratio(confirmation["new"], confirmation["old"]).change()
    report = result.report_path.read_text()
    headline = next(line for line in report.splitlines() if line.startswith("**Confirmed change of"))
    assert f"{change.change:+.1%}**" in headline and f"{change.low:+.1%} to {change.high:+.1%}" in headline
    assert "from 3 fresh pairs" in headline and "| change (screening) |" in report

    # The same run with other confirmation figures: the headline follows them, the screening table does not.
    slower = [v * 1.5 for v in confirmation["old"]]  # half as much again as the source, in every pair
    state = {**result.state, "confirmation": {**confirmation, "new": slower}}
    write_reports(RunDir(result.run_dir), state, {"coder": model})
    rewritten = result.report_path.read_text()
    assert "**Confirmed change of" in rewritten and "+50.0%**" in rewritten and "not a significant saving" in rewritten
    table = [line for line in report.splitlines() if line.startswith("| Runtime")]
    assert table and table == [line for line in rewritten.splitlines() if line.startswith("| Runtime")]
