"""The user's own checks as layers: a check command given the candidate's output and working folder, and a
verification build; the source must pass both itself, or the run stops with one line."""

from __future__ import annotations

import pytest

from tests.helpers.judging import ALWAYS_VALID, BENCHMARKS, Bench, corpus_code
from tools.errors import LassiError

FRESH_TIMING = '! grep -q "12.345 us" "$LASSI_OUTPUT" && test -x "$LASSI_WORKDIR/program"'


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Bench:
    return Bench(BENCHMARKS / "triad", "10", tmp_path_factory.mktemp("triad") / "run", ALWAYS_VALID)


def test_a_passing_check_command_is_evidence_that_sees_the_results(bench):
    verdict = bench.judge(corpus_code("triad", "honest-fused-sum.cpp"), check_cmd=FRESH_TIMING)
    assert verdict.valid and verdict.check("check-cmd") == {
        "name": "check-cmd", "ok": True, "reason": "the check command passed (exit 0)", "sees_results": True}


def test_a_failing_check_command_rejects_the_candidate_before_the_judge_is_asked(bench):
    verdict = bench.judge(corpus_code("triad", "cheat-print-only.cpp"), check_cmd=FRESH_TIMING)
    assert not verdict.valid and verdict.failed_layer() == "check-cmd" and verdict.prompt is None
    assert verdict.check("check-cmd")["reason"].startswith("the check command exited with code 1")


def test_a_source_that_fails_its_own_check_command_stops_the_run_with_one_line(tmp_path):
    fresh = Bench(BENCHMARKS / "triad", "10", tmp_path / "run", ALWAYS_VALID)
    with pytest.raises(LassiError, match=r"the source exited with code 3.* in its check command .*its own check must"
                                         r" pass before candidates can be held to it"):
        fresh.judge(corpus_code("triad", "honest-fused-sum.cpp"), check_cmd="echo no reference here; exit 3")


def test_a_source_whose_verification_build_fails_stops_the_run_with_one_line(tmp_path):
    fresh = Bench(BENCHMARKS / "triad", "10", tmp_path / "run", ALWAYS_VALID)
    with pytest.raises(LassiError, match=r"the source did not build with '-DVERIFY -include missing.h'"):
        fresh.judge(corpus_code("triad", "honest-fused-sum.cpp"), verify_flags="-DVERIFY -include missing.h")


def test_work_is_counted_on_the_arguments_given_for_counting(tmp_path):
    fresh = Bench(BENCHMARKS / "triad", "10", tmp_path / "run", ALWAYS_VALID)
    verdict = fresh.judge(corpus_code("triad", "honest-fused-sum.cpp"), work_args="2")
    counted = fresh.source["workload"]["cpu"]
    assert verdict.valid and (tmp_path / "run" / "candidates" / "v000" / "workload" / "cpu-work.json").exists()
    on_main = Bench(BENCHMARKS / "triad", "10", tmp_path / "main" / "run", ALWAYS_VALID)
    on_main.judge(corpus_code("triad", "honest-fused-sum.cpp"))
    assert counted["in_parallel_regions"] * 5 == pytest.approx(on_main.source["workload"]["cpu"]["in_parallel_regions"],
                                                                rel=0.01)  # 2 repeats counted, not 10
