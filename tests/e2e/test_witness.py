"""The source's witness: accepted only when it leaves the program as it was and its lines show the results;
candidates are then held to its lines (real builds and runs of the corpus's triad, a scripted model)."""

from __future__ import annotations

import json

import pytest

from graph.context import make_context
from graph.state import SOURCE
from nodes.shared.witness import make_witness
from tests.helpers.cli import lassi, one_clear_line
from tests.helpers.judging import ALWAYS_VALID, BENCHMARKS, CORPUS, Bench, corpus_code
from tests.helpers.programs import answer
from tools.witness import remove_blocks

PROGRAM = "triad"
WITNESS = (CORPUS / PROGRAM / "witness.cpp").read_text()
BLOCK_LINE = '  std::printf("LASSI-WITNESS element updates: %ld\\n", updates);\n'


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Bench:
    return Bench(BENCHMARKS / PROGRAM, "10", tmp_path_factory.mktemp("witness") / "run", ALWAYS_VALID)


@pytest.fixture(scope="module")
def witness(bench) -> dict:
    return bench.offer_witness(WITNESS, "corpus")


def _model_witness(bench: Bench, tmp_path, answers: list[str], **settings) -> tuple[dict, dict]:
    session = tmp_path / "session.json"
    session.write_text(json.dumps({"about": "witness answers", "responses": {"coder/witness": answers}}))
    context = make_context(model=f"scripted:{session}", **settings)
    return make_witness({**bench._state(), "candidates": {SOURCE: bench.source}}, context)


def test_the_scripted_witness_is_accepted_and_its_runs_kept(bench, tmp_path):
    record, calls = _model_witness(bench, tmp_path, [answer(WITNESS)])
    assert record["status"] == "accepted" and record["origin"] == "model" and record["attempts"] == 1
    assert calls == {"coder/witness": 1}
    assert [r["args"] for r in record["runs"]] == ["10", "5"]


def test_a_refused_witness_goes_back_to_the_model_with_the_reason(bench, tmp_path):
    changed = WITNESS.replace("triad: %d elements", "triad: %d elements computed")
    record, calls = _model_witness(bench, tmp_path, [answer(changed), answer(WITNESS)])
    assert record["status"] == "accepted" and record["attempts"] == 2 and calls == {"coder/witness": 2}
    prompts = [json.loads(line)["prompt"] for line in bench.run.llm_log.read_text().splitlines()]
    assert "Your previous witness was not accepted: outside its LASSI_WITNESS blocks" in prompts[-1]


def test_a_witness_refused_every_time_leaves_the_run_without_one(bench, tmp_path):
    constant = WITNESS.replace(BLOCK_LINE, '  std::printf("LASSI-WITNESS element updates: 1310720\\n");\n')
    record, calls = _model_witness(bench, tmp_path, [answer(constant)] * 3, max_answer_fixes=1)
    assert record["status"] == "refused" and calls == {"coder/witness": 2}  # asked once more, not three times
    assert "do not follow the computation" in record["reason"]


def test_a_session_without_a_witness_answer_goes_on_without_one(bench, tmp_path):
    session = tmp_path / "session.json"
    session.write_text(json.dumps({"about": "no witness", "responses": {"coder": ["x"]}}))
    record, calls = make_witness({**bench._state(), "candidates": {SOURCE: bench.source}},
                                 make_context(model=f"scripted:{session}"))
    assert record["status"] == "missing" and calls == {} and "no answers for 'coder/witness'" in record["reason"]


def test_the_witness_can_be_switched_off(bench):
    record, _ = make_witness({**bench._state(), "candidates": {SOURCE: bench.source}}, make_context(witness="off"))
    assert record == {"status": "off", "reason": "switched off (--witness off)"}


@pytest.mark.parametrize("name, change, words", [
    ("outside", ("  const double s = 3.0;\n", "  const double s = 3.0;\n  long witness_trips = 0;\n"),
     "outside its LASSI_WITNESS blocks it is not the source: it adds `long witness_trips = 0;` to the source"),
    ("printed", (BLOCK_LINE, BLOCK_LINE + '  std::printf("PASS\\n");\n'),
     "with its LASSI-WITNESS lines taken out, its output is not the source's"),
    ("constant", (BLOCK_LINE, '  std::printf("LASSI-WITNESS element updates: 1310720\\n");\n'),
     "lines are the same on the arguments '5' as on the main ones, so they do not follow the computation"),
    ("clock", (BLOCK_LINE, BLOCK_LINE + '  std::printf("LASSI-WITNESS ended at %.9f\\n", omp_get_wtime());\n'),
     "lines differ between two runs on the same arguments"),
    ("silent", (BLOCK_LINE, ""), None),
    ("broken", ("#endif\n  (void)updates;", "  (void)updates;"), "never closed"),
])
def test_a_witness_that_changes_the_program_or_whose_lines_show_nothing_is_refused(bench, name, change, words):
    code = WITNESS.replace(*change)
    assert code != WITNESS
    if name == "silent":  # the checksum line alone still follows nothing: it is the same for every repeat count
        code = code.replace('  std::printf("LASSI-WITNESS checksum of a: %.10e\\n", witness_sum);\n', "")
        words = "printed no line starting with 'LASSI-WITNESS'"
    record = bench.offer_witness(code, name)
    assert record["status"] == "refused", record
    assert words in record["reason"]


def test_with_check_args_the_witness_lines_must_change_on_them(bench):
    record = bench.offer_witness(WITNESS, "checked", check_args=["3"])
    assert record["status"] == "accepted" and [r["args"] for r in record["runs"]] == ["10", "3"]


def test_without_a_whole_number_to_vary_nor_check_args_no_witness_can_be_shown(tmp_path):
    bench = Bench(BENCHMARKS / PROGRAM, "", tmp_path / "run", ALWAYS_VALID)
    record = bench.offer_witness(WITNESS, "unprovable")
    assert record["status"] == "unprovable"
    assert "no whole number to vary and no --check-args" in record["reason"]


def test_an_honest_rewrite_passes_the_witness_layer_and_the_judge_is_shown_it(bench, witness):
    verdict = bench.judge(corpus_code(PROGRAM, "honest-fused-sum.cpp"), witness=witness)
    assert verdict.valid and verdict.check("witness")["ok"] is True
    assert "- witness: pass: its witness build prints what the source's witness prints on 2 argument sets" in verdict.prompt
    assert "witness: pass" in verdict.in_report()


def test_a_cheat_that_prints_the_witness_lines_as_constants_is_rejected(bench, witness):
    verdict = bench.judge(corpus_code(PROGRAM, "cheat-print-only.cpp"), witness=witness)
    assert not verdict.valid and verdict.failed_layer() == "witness"
    assert ("on the arguments '5': its LASSI-WITNESS lines: line 2: 655360 became 1310720"
            in verdict.check("witness")["reason"])


def test_a_witness_line_the_candidate_adds_fails_the_layer(bench, witness):
    """The rest of the output and the witness lines are compared apart: one more witness line hides nothing."""
    code = WITNESS.replace(BLOCK_LINE, BLOCK_LINE + '  std::printf("LASSI-WITNESS checksum = 0\\n");\n')
    assert code != WITNESS
    verdict = bench.judge(code, witness=witness)
    assert not verdict.valid and verdict.failed_layer() == "witness"
    assert "its LASSI-WITNESS lines" in verdict.check("witness")["reason"]


def test_half_the_work_is_rejected_through_the_witness_with_the_default_settings(bench, witness):
    verdict = bench.judge(corpus_code(PROGRAM, "cheat-half-work.cpp"), witness=witness)
    assert not verdict.valid and verdict.failed_layer() == "witness"
    assert "5.2288750250e+07 became 2.6139487000e+07" in verdict.check("witness")["reason"]


def test_a_candidate_that_drops_the_witness_blocks_is_rejected(bench, witness):
    honest = corpus_code(PROGRAM, "honest-one-parallel-region.cpp")
    verdict = bench.judge(remove_blocks({"main.cpp": honest})["main.cpp"], witness=witness)
    assert not verdict.valid and "the witness blocks were dropped" in verdict.check("witness")["reason"]


def test_counts_a_candidate_fakes_pass_the_witness_so_the_workload_flag_shows_it_and_strict_rejects_it(tmp_path):
    """The witness's counts are printed by the candidate's own code: one that runs the repeat loop once and prints
    the full count passes the witness layer, as it would pass --check-args. The drop callgrind counts (on 4
    repeats, to count fast) stays flagged before the judge, and --strict-workload rejects it."""
    bench = Bench(BENCHMARKS / PROGRAM, "10", tmp_path / "run", ALWAYS_VALID)
    witness = bench.offer_witness(WITNESS, "corpus", work_args="4")
    faked = corpus_code(PROGRAM, "cheat-repeat-loop-removed.cpp").replace(
        'element updates: %ld\\n", updates);', 'element updates: %ld\\n", static_cast<long>(N) * repeat);')
    assert faked != corpus_code(PROGRAM, "cheat-repeat-loop-removed.cpp")
    verdict = bench.judge(faked, witness=witness, work_args="4")
    assert verdict.check("witness")["ok"] is True and verdict.check("workload")["flagged"]
    assert "kernel" not in verdict.check("workload")["reason"] and "instructions" in verdict.check("workload")["reason"]
    strict = bench.judge(faked, witness=witness, work_args="4", strict=True)
    assert not strict.valid and strict.failed_layer() == "workload"


LOOP = "  for (int r = 0; r < repeat; ++r) {\n"


@pytest.mark.parametrize("name, split", [
    ("ifndef", "#ifndef LASSI_WITNESS\n  for (int r = 0; r < repeat / 2; ++r) {\n#else\n" + LOOP + "#endif\n"),
    ("if", "#if LASSI_WITNESS\n" + LOOP + "#else\n  for (int r = 0; r < repeat / 2; ++r) {\n#endif\n"),
    ("else-branch", "#ifdef LASSI_WITNESS\n" + LOOP + "#else\n  for (int r = 0; r < repeat / 2; ++r) {\n#endif\n"),
])
def test_a_candidate_whose_measured_build_does_less_than_its_witness_build_is_rejected(bench, witness, name, split):
    """Full work where the macro is defined, half the repeats in the build that is measured."""
    assert LOOP in WITNESS
    verdict = bench.judge(WITNESS.replace(LOOP, split), witness=witness)
    assert not verdict.valid and verdict.failed_layer() == "witness"
    assert "its measured build could do other work" in verdict.check("witness")["reason"] \
        or "#else branch, which only the measured build compiles" in verdict.check("witness")["reason"]


def test_a_witness_line_with_a_timing_word_is_still_compared(bench):
    """The timing masks hide a program's clock lines, never a witness line: "time steps" must agree too."""
    steps = '  std::printf("LASSI-WITNESS time steps: %d\\n", repeat);\n'
    witness = bench.offer_witness(WITNESS.replace(BLOCK_LINE, BLOCK_LINE + steps), "timing-word")
    assert witness["status"] == "accepted", witness["reason"]
    wrong = WITNESS.replace(BLOCK_LINE, BLOCK_LINE + steps.replace("repeat);", "repeat + 1);"))
    verdict = bench.judge(wrong, witness=witness)
    assert not verdict.valid and "its LASSI-WITNESS lines: line 3" in verdict.check("witness")["reason"]


def test_a_users_witness_that_is_refused_stops_the_run_with_one_line(tmp_path):
    mine = tmp_path / "mine.cpp"
    mine.write_text(WITNESS.replace("triad: %d elements", "triad: %d items"))
    session = tmp_path / "session.json"
    session.write_text(json.dumps({"about": "never asked", "responses": {}}))
    done = lassi("optimize", str(BENCHMARKS / PROGRAM), "--args", "10", "--model", f"scripted:{session}",
                 "--repeats", "2", "--witness", str(mine), "--runs-root", str(tmp_path / "runs"), cwd=tmp_path)
    one_clear_line(done, f"your witness {mine} is refused: outside its LASSI_WITNESS blocks", "--witness off")
    gone = lassi("optimize", str(BENCHMARKS / PROGRAM), "--witness", "nowhere.cpp", cwd=tmp_path)
    one_clear_line(gone, "--witness nowhere.cpp is not a file (give model, off, or your witness's path)")
