"""On an NVIDIA GPU: the validation corpus of the CUDA examples, judged by a scripted judge that answers
VALID to everything, so every rejection and every flag comes from the layers before it.

With --strict-workload every cheat is rejected and every honest rewrite accepted. Without it, a cheat
that layers 1-3 miss is flagged in the judge's prompt and in the report. Arguments are shortened so
the whole corpus runs in well under three minutes of GPU time. Run with `-s` to see the table of
cases and layer verdicts (also written to $LASSI_CORPUS_TABLE when that is set).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.judging import CORPUS, EXAMPLES, Bench, Verdict, corpus_code
from tools.gpu import find_gpu
from tools.report.run_report import verdict_mark

pytestmark = pytest.mark.gpu
ALWAYS_VALID = "Looks equivalent.\nVERDICT: VALID"
ARGUMENTS = {  # program: (main arguments, extra argument sets)
    "transfer-loop": ("1024 1024 30", ["640 480 7"]),
    "pageable-copy": ("2048 256 6", ["1536 512 4"]),
    "sync-storm": ("256 3000", ["128 1000"]),
}
CASES = [(p, f.name) for p in ARGUMENTS for f in sorted((CORPUS / p).glob("*.cu"))]
LAYERS = ("runs", "output", "check-args", "workload", "judge")
SEEN: dict[tuple[str, str, bool], Verdict] = {}


@pytest.fixture(scope="module")
def benches(tmp_path_factory):
    """One bench per program, its source built and run at first use; the table is printed at the end."""
    made: dict[str, Bench] = {}

    def bench(program: str) -> Bench:
        if program not in made:
            made[program] = Bench(EXAMPLES / program, ARGUMENTS[program][0], tmp_path_factory.mktemp(program) / "run",
                                  ALWAYS_VALID, arch=find_gpu().arch)
        return made[program]

    yield bench
    table = corpus_table()
    print("\n" + table)
    if target := os.environ.get("LASSI_CORPUS_TABLE"):
        Path(target).write_text(table + "\n")


def judged(benches, program: str, case: str, strict: bool) -> Verdict:
    bench = benches(program)
    verdict = bench.judge(corpus_code(program, case, bench.source_output()), ARGUMENTS[program][1], strict=strict)
    SEEN[(program, case, strict)] = verdict
    return verdict


def cheat(case: str) -> bool:
    return case.startswith("cheat-")


@pytest.mark.parametrize("program, case", CASES)
def test_with_strict_workload_every_cheat_is_rejected_and_every_honest_rewrite_accepted(benches, program, case):
    verdict = judged(benches, program, case, strict=True)
    assert verdict.valid is not cheat(case), verdict.in_report()


@pytest.mark.parametrize("program, case", CASES)
def test_without_strict_workload_a_cheat_the_first_layers_miss_is_flagged_to_the_judge_and_in_the_report(
        benches, program, case):
    verdict = judged(benches, program, case, strict=False)
    report = verdict.in_report()
    if not cheat(case):
        assert verdict.valid and "counts" in verdict.record["workload"], report
        assert verdict.check("workload")["flagged"] is False, report
    elif verdict.failed_layer() is None:  # runs, output and check-args all passed
        assert verdict.check("workload")["flagged"] is True, report
        assert "FLAGGED: the refactored program does less GPU work" in verdict.prompt
        assert "  - workload: FLAGGED — " in report
    else:
        assert verdict.failed_layer() in ("output", "check-args") and not verdict.valid, report


def test_the_workload_evidence_names_kernels_copies_and_bytes(benches):
    verdict = judged(benches, "transfer-loop", "honest-hoisted-transfer.cu", strict=True)
    source = benches("transfer-loop").source["workload"]["counts"]
    assert source["kernels"]["gaussian_blur"]["launches"] == 30
    assert source["copies"]["host-to-device"]["count"] == 30
    assert source["copies"]["host-to-device"]["bytes"] == 30 * 1024 * 1024 * 4
    assert source["copies"]["host-to-device"]["host_memory"] == {"pageable": 30}
    counted = verdict.record["workload"]["counts"]
    assert counted["kernels"]["gaussian_blur"]["launches"] == 30 and counted["copies"]["host-to-device"]["count"] == 1
    assert counted["kernels"]["gaussian_blur"]["gpu_ns"] > 0
    assert "host-to-device copies moved 4 MiB instead of 120 MiB" in verdict.check("workload")["reason"]


def corpus_table() -> str:
    """Each case with the mark of every layer (without --strict-workload) and the verdict with and without it."""
    lines = ["| program | case | " + " | ".join(LAYERS) + " | valid (strict) | valid |",
             "|---" * (len(LAYERS) + 4) + "|"]
    for program, case in CASES:
        loose, strict = SEEN.get((program, case, False)), SEEN.get((program, case, True))
        marks = [_mark(loose, layer) for layer in LAYERS]
        lines.append(f"| {program} | {case} | " + " | ".join(marks) +
                     f" | {_valid(strict)} | {_valid(loose)} |")
    return "\n".join(lines)


def _mark(verdict: Verdict | None, layer: str) -> str:
    if verdict is None:
        return "not run"
    check = next((c for c in verdict.record["validation"]["checks"] if c["name"] == layer), None)
    return verdict_mark(check) if check else "—"


def _valid(verdict: Verdict | None) -> str:
    return "not run" if verdict is None else ("yes" if verdict.valid else "no")
