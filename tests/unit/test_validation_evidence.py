"""How much evidence a check gave: an output agreement on too little is inconclusive, an empty or cut output
fails, callgrind's counts are read by where they fall, a drop in work is flagged, the source's own verdict
and its repeatability are checked on its first runs, a rejected candidate is not measured past its first
run, and an extraordinary saving needs evidence without gaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.context import make_context
from nodes.shared.extraordinary import weigh_extraordinary
from nodes.shared.first_runs import FirstRuns, RejectedEarly
from tools.cpu_work import CpuWork, compare_cpu_work, parse_callgrind
from tools.errors import LassiError
from tools.outputs import compare_outputs, failing_verdicts
from tools.sandbox.runner import RunResult

BENCHMARK = "histogram: 65536 keys into 256 bins\nAverage kernel time: 7.7 us\nPASS\n"
PASS_ONLY = "Average kernel time: 7.7 us\nPASS\n"


def test_an_agreement_on_a_verdict_word_alone_is_inconclusive_not_a_pass():
    found = compare_outputs(PASS_ONLY, PASS_ONLY.replace("7.7", "1.2"))
    assert found.same and not found.conclusive
    assert (found.lines, found.tokens, found.numbers) == (1, 1, 0)
    assert found.reason.startswith("inconclusive: the outputs agree, but only 1 lines, 1 tokens and 0 numbers")


def test_an_agreement_on_a_number_is_conclusive_and_says_what_it_compared():
    found = compare_outputs(BENCHMARK, BENCHMARK.replace("7.7", "3.1"))
    assert found.same and found.conclusive and found.numbers == 2
    assert found.reason.startswith("2 lines, 8 tokens and 2 numbers compared after 1 timing lines were masked")


def test_the_evidence_threshold_is_a_setting():
    assert compare_outputs(PASS_ONLY, PASS_ONLY, min_numbers=0).conclusive
    assert not compare_outputs(BENCHMARK, BENCHMARK, min_numbers=3).conclusive


def test_nothing_compared_against_nothing_is_inconclusive():
    found = compare_outputs("", "")
    assert found.same and not found.conclusive


def test_an_empty_output_never_agrees_with_a_source_that_printed_something():
    for source in (BENCHMARK, PASS_ONLY, "Average kernel time: 7.7 us\n"):
        found = compare_outputs(source, "")
        assert not found.same and "printed nothing" in found.reason


def test_an_output_cut_short_fails_even_where_only_timing_lines_are_missing():
    assert not compare_outputs(BENCHMARK, "histogram: 65536 keys into 256 bins\n").same
    cut = compare_outputs(BENCHMARK, "histogram: 65536 keys into 256 bins\nPASS\n")
    assert not cut.same and "0 timing lines where the source prints 1" in cut.reason


def test_padding_with_extra_timing_lines_does_not_get_round_the_count():
    padded = BENCHMARK + "Total time: 1 s\n"
    assert not compare_outputs(BENCHMARK, padded).same


def test_failing_verdict_words_are_found_and_passing_ones_are_not():
    assert failing_verdicts("Verification failed\nPASS\n3 errors found\nno errors\nresult incorrect\nFAIL") == [
        "failed", "errors found", "incorrect", "FAIL"]
    assert failing_verdicts("Verification: PASS\nresult correct\nno errors\n") == []
    assert failing_verdicts("0 errors found\n0 mismatches\n") == []
    assert failing_verdicts("10 errors found\n1.0 mismatches\n") == ["errors found", "mismatches"]


# A callgrind output file as `valgrind --tool=callgrind --compress-strings=no --compress-pos=no` writes it.
CALLGRIND = """# callgrind format
version: 1
cmd:  /w/program 10
events: Ir
ob=/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
fl=???
fn=_dl_start
0 1000
ob=/w/program
fl=???
fn=main
0 300
cob=/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0
cfi=???
cfn=GOMP_parallel
calls=1 0
0 5000
fn=main._omp_fn.0
0 4000
cob=/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0
cfn=omp_get_num_threads
calls=2 0
0 16
ob=/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0
fn=GOMP_parallel
0 684
totals: 5984
"""


def test_callgrind_counts_are_split_by_where_they_fall_and_call_costs_are_not_counted_twice():
    work = parse_callgrind(CALLGRIND, "/w/program")
    assert work.instructions == 1000 + 300 + 4000 + 684  # the inclusive costs after calls= are skipped
    assert (work.in_program, work.in_parallel_regions) == (4300, 4000)
    assert work.functions == {"main._omp_fn.0": 4000, "main": 300}


def cpu(total: int, regions: int) -> CpuWork:
    return CpuWork(instructions=total, in_parallel_regions=regions, in_program=regions)


def test_fewer_than_half_the_instructions_is_flagged_and_the_reason_allows_for_vectorization():
    found = compare_cpu_work(cpu(1_000_000, 800_000), cpu(400_000, 300_000))
    assert found.flagged and found.findings[0] == "instructions executed fell from 1,000,000 to 400,000 (-60%)"
    assert "vectorization" in found.reason


def test_work_gone_from_the_parallel_regions_is_flagged_even_when_the_total_holds():
    found = compare_cpu_work(cpu(1_000_000, 800_000), cpu(1_000_000, 100_000))
    assert found.flagged and "instructions in OpenMP parallel regions fell" in found.reason


def test_a_rewrite_doing_most_of_the_work_is_not_flagged():
    found = compare_cpu_work(cpu(1_000_000, 800_000), cpu(600_000, 450_000))
    assert not found.flagged and found.reason.startswith("no drop: 600,000 instructions executed (-40%)")


def context(**settings):
    return make_context(model="scripted:/dev/null", **settings)


def ran(stdout: str, code: int = 0) -> RunResult:
    return RunResult(exit_code=code, stdout=stdout, stderr="", seconds=0.1)


def source_state(tmp_path: Path, current: str = "000") -> dict:
    (tmp_path / "stdout.txt").write_text(BENCHMARK)
    return {"current": current, "run_dir": str(tmp_path),
            "candidates": {"000": {"key": "000", "run": {"stdout_path": "stdout.txt"}}}}


def test_a_source_whose_own_output_says_fail_stops_stage_0_with_one_line(tmp_path):
    first = FirstRuns(source_state(tmp_path), context())
    with pytest.raises(LassiError, match=r"^the source's own output reports a failure \('FAIL'\): it would be a wrong"
                                         r" baseline; to go on all the same, set --accept-failing-source$"):
        first.seen(ran(BENCHMARK.replace("PASS", "FAIL")))


def test_a_failing_source_goes_on_when_the_user_accepts_it(tmp_path):
    first = FirstRuns(source_state(tmp_path), context(accept_failing_source=True))
    first.seen(ran(BENCHMARK.replace("PASS", "FAIL")))
    first.seen(ran(BENCHMARK.replace("PASS", "FAIL")))


def test_a_source_that_prints_something_else_on_its_second_run_is_reported(tmp_path):
    first = FirstRuns(source_state(tmp_path), context())
    first.seen(ran(BENCHMARK))
    with pytest.raises(LassiError, match="the source's output differs between two runs on the same arguments"):
        first.seen(ran(BENCHMARK.replace("65536", "65535")))


def test_timings_that_change_between_runs_are_not_a_different_output(tmp_path):
    first = FirstRuns(source_state(tmp_path), context())
    first.seen(ran(BENCHMARK))
    first.seen(ran(BENCHMARK.replace("7.7", "9.3")))
    assert first.notice == ""  # one number to compare: enough under the default threshold


def test_a_source_that_prints_too_little_gets_one_notice_of_what_would_help(tmp_path):
    first = FirstRuns(source_state(tmp_path), context())
    first.seen(ran(PASS_ONLY))
    first.seen(ran(PASS_ONLY))
    assert first.notice.startswith("validation has little to compare: the source's output leaves 0 numbers")
    assert "--check-args" in first.notice


def test_a_candidate_whose_first_run_prints_another_count_is_not_measured_further(tmp_path):
    first = FirstRuns(source_state(tmp_path, current="001"), context())
    with pytest.raises(RejectedEarly, match="its first run's output already differs from the source's: line 1"):
        first.seen(ran(BENCHMARK.replace("65536", "131072")))


def test_a_candidate_is_held_to_the_source_on_its_first_run_only(tmp_path):
    first = FirstRuns(source_state(tmp_path, current="001"), context())
    first.seen(ran(BENCHMARK))
    first.seen(ran(BENCHMARK.replace("65536", "131072")))  # later runs are the judge's to compare


def measured(seconds: list[float]) -> dict:
    return {"objective": "duration_s", "readings": [{"duration_s": s} for s in seconds]}


def judged(checks: list[dict], seconds: list[float]) -> dict:
    return {"measurement": measured(seconds), "validation": {"valid": True, "checks": checks}}


SOURCE = {"measurement": measured([10.0, 10.1, 9.9])}
FULL = [{"name": "runs", "ok": True, "reason": "exited 0"}, {"name": "output", "ok": True, "reason": "agree"},
        {"name": "check-args", "ok": True, "reason": "agree on 2"}, {"name": "workload", "ok": True, "reason": "no drop"},
        {"name": "judge", "ok": True, "reason": "VALID"}]


def test_an_extraordinary_saving_with_a_gap_in_the_evidence_is_not_accepted():
    gapped = [*FULL[:2], {"name": "check-args", "ok": None, "reason": "no extra argument sets given"}, *FULL[3:]]
    outcome, why, marks = weigh_extraordinary(judged(gapped, [0.5, 0.5, 0.5]), SOURCE, "better", "figures", 0.8)
    assert outcome == "not_better" and marks == {}
    assert "a saving of 95% against the source is beyond 80%" in why and "check-args skipped" in why


def test_a_flagged_layer_is_a_gap_even_when_a_later_layer_cleared_it():
    flagged = [*FULL[:3], {"name": "workload", "ok": None, "flagged": True, "reason": "instructions fell"}, FULL[4]]
    outcome, why, _ = weigh_extraordinary(judged(flagged, [0.5, 0.5, 0.5]), SOURCE, "better", "figures", 0.8)
    assert outcome == "not_better" and "workload flagged (instructions fell)" in why


def test_an_extraordinary_saving_on_full_evidence_is_accepted_and_marked():
    outcome, why, marks = weigh_extraordinary(judged(FULL, [0.5, 0.5, 0.5]), SOURCE, "better", "figures", 0.8)
    assert outcome == "better" and "extraordinary saving of 95%" in why
    assert marks["extraordinary"]["saving"] == pytest.approx(0.95)
    assert marks["extraordinary"]["evidence"][1] == "output: agree"


def test_an_ordinary_saving_is_left_alone_whatever_the_gaps():
    gapped = [*FULL[:2], {"name": "check-args", "ok": None, "reason": "none given"}, *FULL[3:]]
    assert weigh_extraordinary(judged(gapped, [5.0, 5.0, 5.0]), SOURCE, "better", "figures", 0.8) == (
        "better", "figures", {})


def test_the_report_marks_an_extraordinary_saving_and_names_a_gap_in_the_evidence():
    from tools.report.run_report import validation_item

    marked = {"version": 4, "origin": "plan-step", "validation": {"valid": True, "checks": FULL},
              "extraordinary": {"saving": 0.93, "evidence": []}}
    title, layers = validation_item(marked)
    assert "**extraordinary saving of 93%**" in title and layers[1] == "output: pass — agree"
    gap = {"version": 5, "origin": "plan-step", "validation": {
        "valid": False, "why_not": "no layer gave conclusive evidence (output inconclusive)",
        "checks": [FULL[0], {"name": "output", "ok": None, "inconclusive": True, "reason": "inconclusive: 0 numbers"}]}}
    title, layers = validation_item(gap)
    assert title == "**v005** (plan-step): not valid (no layer gave conclusive evidence (output inconclusive))"
    assert layers[1] == "output: INCONCLUSIVE — inconclusive: 0 numbers"


def test_a_program_too_slow_for_callgrind_on_its_main_arguments_is_not_counted_and_told_what_would_help():
    from nodes.shared.gpu_work import with_source_workload

    slow = {"key": "000", "dir": "/nowhere", "run": {"seconds": 2.0},
            "measurement": {"readings": [{"duration_s": 2.5}, {"duration_s": 2.0}]}}
    state = {"language": "cpp", "args": ["1500", "80"]}
    counted = with_source_workload(state, slow, {}, 60.0, None, ["1500", "80"])
    assert counted["workload"]["error"].startswith("counting its instructions would take about 100 s")
    assert "--work-args" in counted["workload"]["error"]


def test_the_progress_line_of_a_candidate_left_not_valid_gives_the_gap():
    from app.progress import describe_step

    cand = {"version": 3, "origin": "plan-step", "validation": {
        "valid": False, "why_not": "no layer gave conclusive evidence (output inconclusive)",
        "checks": [FULL[0], {"name": "output", "ok": None, "inconclusive": True, "reason": "inconclusive"}]}}
    line = describe_step("judge", {}, {"candidates": {"003": cand}, "current": "003"})
    assert line == "v003 plan-step: not valid — no layer gave conclusive evidence (output inconclusive)"
