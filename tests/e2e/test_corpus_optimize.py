"""The benchmark-shaped corpus through `lassi-ee optimize` with the default validation settings, one scripted
session per program: the coder writes the source's witness first, then offers cheats (printing without
computing, half the work, the repeat loop removed) and an honest rewrite last, the judge says VALID to
everything, and no run ends with a cheat as its best. The best comes back without the witness blocks."""

from __future__ import annotations

import json
import re

from tests.helpers.cli import lassi
from tests.helpers.judging import BENCHMARK_PROGRAMS, BENCHMARKS, CORPUS, corpus_code
from tests.helpers.programs import SUMMARIES, VALID, answer

HONEST_REWRITE = {p: sorted(f.name for f in (CORPUS / p).glob("honest-*.cpp"))[0] for p in BENCHMARK_PROGRAMS}
OFFERED = ("cheat-print-only.cpp", "cheat-half-work.cpp", "cheat-repeat-loop-removed.cpp")  # v001, v002, v003


def test_no_run_over_the_corpus_ends_with_a_cheat_as_its_best(tmp_path):
    for program in BENCHMARK_PROGRAMS:
        offers = [*OFFERED, HONEST_REWRITE[program]]
        session = tmp_path / f"{program}.json"
        session.write_text(json.dumps({"about": "cheats first, one honest rewrite last", "responses": {
            **SUMMARIES, "coder/witness": [answer((CORPUS / program / "witness.cpp").read_text())],
            "coder": [answer(corpus_code(program, case)) for case in offers], "judge": [VALID] * 4,
            "planner": ["plan"] * 4, "reporter": ["comparison"]}}))
        done = lassi("optimize", str(BENCHMARKS / program), "--args", "10", "--model", f"scripted:{session}",
                     "--repeats", "2", "--max-iterations", "3",
                     "--runs-root", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        run = sorted((tmp_path / "runs").glob(f"*-{program}"))[-1]
        report = (run / "report.md").read_text()
        assert "witness of the source accepted: it prints 2 LASSI-WITNESS lines" in done.stdout
        assert "## Witness of the source" in report and "+#ifdef LASSI_WITNESS" in report
        best = re.search(r"\*\*Best candidate: v(\d{3})\*\*", report)
        chosen = offers[int(best.group(1)) - 1] if best else "the source"
        assert not chosen.startswith("cheat-"), f"{program}: the best is {chosen}"
        for version in ("001", "002", "003"):  # each cheat was judged, and not one was valid
            assert re.search(rf"^- \*\*v{version}\*\* \([a-z-]+\): (invalid|not valid)", report, re.M), report
        assert "LASSI_WITNESS" not in (run / "best" / "main.cpp").read_text()
