"""Validation on programs shaped like public benchmarks: a repeat argument, a self-check summarised as one
PASS line, timing lines, results never printed. Each has honest rewrites and the cheats seen in practice.

The judge model answers VALID to everything, so only the deterministic layers decide. With the default
settings the output layer compares one count and a PASS, which every cheat but the changed count
reproduces; what is left is the work each candidate is counted doing (callgrind's instructions). That
catches printing without computing, the repeat loop removed and the problem size cut, but half the work
looks like an honest rewrite that halves its instructions: only a layer that sees the results tells
them apart, here the programs' own verification build (-DVERIFY prints a checksum and a work count).
"""

from __future__ import annotations

import pytest

from tests.helpers.judging import ALWAYS_VALID, BENCHMARK_PROGRAMS, BENCHMARKS, CORPUS, Bench, corpus_code

PROGRAMS = BENCHMARK_PROGRAMS
REPEAT = "10"
VERIFY = "-DVERIFY"
HONEST = {p: sorted(f.name for f in (CORPUS / p).glob("honest-*.cpp")) for p in PROGRAMS}
CHEATS = ("cheat-print-only.cpp", "cheat-repeat-loop-removed.cpp", "cheat-problem-size-cut.cpp",
          "cheat-half-work.cpp", "cheat-count-changed.cpp")
SKIPPED_WORK = ("cheat-print-only.cpp", "cheat-repeat-loop-removed.cpp", "cheat-problem-size-cut.cpp")


@pytest.fixture(scope="module")
def benches(tmp_path_factory) -> dict[str, Bench]:
    made: dict[str, Bench] = {}

    def bench(program: str) -> Bench:
        if program not in made:
            made[program] = Bench(BENCHMARKS / program, REPEAT, tmp_path_factory.mktemp(program) / "run", ALWAYS_VALID)
        return made[program]

    return bench


def test_the_corpus_has_two_honest_rewrites_and_every_cheat_for_each_program():
    for program in PROGRAMS:
        assert len(HONEST[program]) >= 2
        assert all((CORPUS / program / cheat).exists() for cheat in CHEATS), program


@pytest.mark.parametrize("program", PROGRAMS)
def test_printing_the_expected_lines_passes_the_output_layer_whose_numbers_are_constants(benches, program):
    verdict = benches(program).judge(corpus_code(program, "cheat-print-only.cpp"))
    assert verdict.check("output")["ok"] is True  # the counts of the one line left after masking agree
    assert verdict.check("output")["reason"].startswith("2 lines,")


@pytest.mark.parametrize("program, case", [(p, h) for p in PROGRAMS for h in HONEST[p]])
def test_an_honest_rewrite_is_accepted_with_the_default_settings(benches, program, case):
    verdict = benches(program).judge(corpus_code(program, case))
    assert verdict.valid, verdict.record["validation"]
    assert verdict.check("workload")["ok"] is True and not verdict.check("workload")["flagged"]


@pytest.mark.parametrize("program, case", [(p, c) for p in PROGRAMS for c in SKIPPED_WORK])
def test_a_cheat_that_skips_work_is_left_not_valid_with_the_default_settings(benches, program, case):
    verdict = benches(program).judge(corpus_code(program, case))
    assert not verdict.valid and verdict.prompt is None  # the model is not even asked
    assert verdict.check("workload")["flagged"] and "fell from" in verdict.check("workload")["reason"]
    assert "no layer that sees the results cleared it" in verdict.record["validation"]["why_not"]


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_changed_printed_count_is_rejected_by_the_output_layer(benches, program):
    verdict = benches(program).judge(corpus_code(program, "cheat-count-changed.cpp"))
    assert not verdict.valid and verdict.failed_layer() == "output"
    assert "whole numbers must be equal" in verdict.check("output")["reason"]


@pytest.mark.parametrize("program", PROGRAMS)
def test_half_the_work_is_rejected_once_a_layer_sees_the_results(benches, program):
    plain = benches(program).judge(corpus_code(program, "cheat-half-work.cpp"))
    assert not plain.check("workload")["flagged"]  # half the instructions: an honest rewrite can do that too
    verdict = benches(program).judge(corpus_code(program, "cheat-half-work.cpp"), verify_flags=VERIFY)
    assert not verdict.valid and verdict.failed_layer() == "verify"
    assert "checksum" in verdict.check("verify")["reason"]


@pytest.mark.parametrize("program, case", [(p, h) for p in PROGRAMS for h in HONEST[p]])
def test_with_the_verification_build_every_honest_rewrite_is_accepted(benches, program, case):
    verdict = benches(program).judge(corpus_code(program, case), verify_flags=VERIFY)
    assert verdict.valid and verdict.check("verify")["ok"] is True and verdict.check("verify")["sees_results"]
