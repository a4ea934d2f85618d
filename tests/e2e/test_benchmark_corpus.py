"""Validation on programs shaped like public benchmarks: a repeat argument, a self-check summarised as one
PASS line, timing lines, results never printed. Each has honest rewrites and the cheats seen in practice.

The judge model answers VALID to everything, so only the deterministic layers decide. With the default
settings the output layer compares one count and a PASS, which every cheat but the changed count
reproduces. What tells them apart is the source's witness, made once at Stage 0 (here, the corpus's
witness.cpp of each program, tried as the run tries one): built with -DLASSI_WITNESS it prints checksums
of the results and counts of the work, on the main arguments and on the main arguments halved (the
program gets no --check-args), and every candidate, which keeps the witness blocks, must print the same.
Without a witness half the work looks like an honest rewrite that halves its instructions; the programs'
own verification build (-DVERIFY) then catches it, when the user names it.
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
REJECTED_BY = {"cheat-print-only.cpp": "witness", "cheat-repeat-loop-removed.cpp": "witness",
               "cheat-problem-size-cut.cpp": "witness", "cheat-half-work.cpp": "witness",
               "cheat-count-changed.cpp": "output"}


@pytest.fixture(scope="module")
def benches(tmp_path_factory):
    """Each program's bench, built and run once, with the record of its accepted witness."""
    made: dict[str, tuple[Bench, dict]] = {}

    def bench(program: str) -> tuple[Bench, dict]:
        if program not in made:
            bench = Bench(BENCHMARKS / program, REPEAT, tmp_path_factory.mktemp(program) / "run", ALWAYS_VALID)
            made[program] = bench, bench.offer_witness((CORPUS / program / "witness.cpp").read_text(), "corpus")
        return made[program]

    return bench


def test_the_corpus_has_a_witness_two_honest_rewrites_and_every_cheat_for_each_program():
    for program in PROGRAMS:
        assert len(HONEST[program]) >= 2 and (CORPUS / program / "witness.cpp").exists()
        assert all((CORPUS / program / cheat).exists() for cheat in CHEATS), program


@pytest.mark.parametrize("program", PROGRAMS)
def test_the_witness_of_every_program_is_accepted_on_the_main_arguments_halved(benches, program):
    _, witness = benches(program)
    assert witness["status"] == "accepted", witness["reason"]
    assert [r["args"] for r in witness["runs"]] == [REPEAT, "5"]  # no --check-args: the repeat count halved
    assert "2 LASSI-WITNESS lines, the same on two runs, and other ones on '5' (no --check-args" in witness["reason"]


@pytest.mark.parametrize("program, case", [(p, h) for p in PROGRAMS for h in HONEST[p]])
def test_an_honest_rewrite_is_accepted_with_the_default_settings(benches, program, case):
    bench, witness = benches(program)
    verdict = bench.judge(corpus_code(program, case), witness=witness)
    assert verdict.valid, verdict.record["validation"]
    assert verdict.check("witness")["ok"] is True and verdict.check("witness")["sees_results"]
    assert verdict.check("workload")["ok"] is True and not verdict.check("workload")["flagged"]


@pytest.mark.parametrize("program, case", [(p, c) for p in PROGRAMS for c in CHEATS])
def test_every_cheat_is_rejected_with_the_default_settings(benches, program, case):
    bench, witness = benches(program)
    verdict = bench.judge(corpus_code(program, case), witness=witness)
    assert not verdict.valid and verdict.prompt is None  # the model is not even asked
    assert verdict.failed_layer() == REJECTED_BY[case], verdict.record["validation"]


@pytest.mark.parametrize("program", PROGRAMS)
def test_printing_the_witness_lines_of_the_main_arguments_fails_on_the_halved_ones(benches, program):
    bench, witness = benches(program)
    verdict = bench.judge(corpus_code(program, "cheat-print-only.cpp"), witness=witness)
    assert verdict.check("output")["ok"] is True  # the counts of the one line left after masking agree
    assert "on the arguments '5'" in verdict.check("witness")["reason"]  # '10' agreed: its lines are constants


@pytest.mark.parametrize("program", PROGRAMS)
def test_half_the_work_is_rejected_through_the_witness_with_the_default_settings(benches, program):
    bench, witness = benches(program)
    verdict = bench.judge(corpus_code(program, "cheat-half-work.cpp"), witness=witness)
    assert not verdict.valid and verdict.failed_layer() == "witness"
    assert "on the arguments '10'" in verdict.check("witness")["reason"]


@pytest.mark.parametrize("program", PROGRAMS)
def test_without_a_witness_the_work_counts_leave_skipped_work_not_valid_but_pass_half_the_work(benches, program):
    bench, _ = benches(program)
    for case in SKIPPED_WORK:
        verdict = bench.judge(corpus_code(program, case))
        assert not verdict.valid and verdict.check("workload")["flagged"], case
        assert "no layer that sees the results cleared it" in verdict.record["validation"]["why_not"]
    half = bench.judge(corpus_code(program, "cheat-half-work.cpp"))
    assert half.valid and not half.check("workload")["flagged"]  # half the instructions: honest rewrites do that too


@pytest.mark.parametrize("program", PROGRAMS)
def test_half_the_work_is_rejected_by_the_programs_own_verification_build(benches, program):
    bench, _ = benches(program)
    verdict = bench.judge(corpus_code(program, "cheat-half-work.cpp"), verify_flags=VERIFY)
    assert not verdict.valid and verdict.failed_layer() == "verify"
    assert "checksum" in verdict.check("verify")["reason"]


@pytest.mark.parametrize("program, case", [(p, h) for p in PROGRAMS for h in HONEST[p]])
def test_with_the_verification_build_every_honest_rewrite_is_accepted(benches, program, case):
    bench, _ = benches(program)
    verdict = bench.judge(corpus_code(program, case), verify_flags=VERIFY)
    assert verdict.valid and verdict.check("verify")["ok"] is True and verdict.check("verify")["sees_results"]
