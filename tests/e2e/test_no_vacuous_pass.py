"""No layer passes on nothing: a program that prints only PASS and a timing line leaves the output layer
inconclusive, the judge's prompt says so and why, and a candidate with no conclusive layer at all is not
valid, whatever the judge answers."""

from __future__ import annotations

import shutil

import pytest

from nodes.shared import gpu_work
from tests.helpers.judging import ALWAYS_VALID, BENCHMARKS, Bench, corpus_code
from tools.errors import LassiError

COUNT_LINE = '  std::printf("triad: %d elements\\n", N);\n'


def silent(code: str) -> str:
    """The program without its count line: a timing line and PASS are all it prints."""
    assert COUNT_LINE in code
    return code.replace(COUNT_LINE, "")


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Bench:
    folder = tmp_path_factory.mktemp("pass-only") / "triad"
    shutil.copytree(BENCHMARKS / "triad", folder)
    (folder / "main.cpp").write_text(silent((folder / "main.cpp").read_text()))
    return Bench(folder, "10", folder.parent / "run", ALWAYS_VALID)


def test_an_output_of_pass_and_a_timing_is_inconclusive_and_the_judge_is_told_why(bench):
    verdict = bench.judge(silent(corpus_code("triad", "honest-fused-sum.cpp")))
    output = verdict.check("output")
    assert output["ok"] is None and output["inconclusive"]
    assert "only 1 lines, 1 tokens and 0 numbers compared" in output["reason"]
    assert verdict.valid  # the work counted is the evidence left, and it shows no drop
    assert "- output: INCONCLUSIVE: inconclusive: the outputs agree, but only 1 lines" in verdict.prompt


def test_a_candidate_whose_every_layer_is_inconclusive_or_skipped_is_not_valid(bench, monkeypatch):
    def uncountable(*args, **kwargs):
        raise LassiError("valgrind is not installed")

    monkeypatch.setattr(gpu_work, "count_cpu_work", uncountable)
    verdict = bench.judge(silent(corpus_code("triad", "honest-one-parallel-region.cpp")))
    assert [c["ok"] for c in verdict.record["validation"]["checks"]] == [True, None, None, None, None]
    assert not verdict.valid and verdict.prompt is None
    assert verdict.record["validation"]["why_not"] == (
        "no layer gave conclusive evidence (output inconclusive, check-args skipped, workload skipped)")
