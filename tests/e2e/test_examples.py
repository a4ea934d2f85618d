"""The shipped C++/OpenMP examples: the heat2d demo's scripted session walks every stage of the pipeline
for real, every recorded candidate is a real program, and plume3d prints figures a thread count cannot move.

Which candidates beat the best is decided by real timings, so the assertions name the stages the
session must pass through, not the exact order a noisy machine might produce.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from app.api import resume
from tests.helpers import ROOT
from tools.build import BINARY_NAME, build, build_command
from tools.outputs import DEFAULT_MASKS
from tools.program import load_program, stage_workspace

EXAMPLES = ROOT / "examples"
CPP_EXAMPLES = sorted(p.parent.name for p in (EXAMPLES / "programs").glob("*/main.cpp"))


def test_the_heat2d_demo_walks_every_stage_from_the_cli(tmp_path):
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "app.cli", "optimize", str(EXAMPLES / "programs" / "heat2d"),
                           "--model", f"scripted:{EXAMPLES / 'sessions' / 'heat2d' / 'session.json'}",
                           "--run-dir", str(run_dir), "--check-args", "96 9", "--work-args", "200 10"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = resume(run_dir)
    c = result.state["candidates"]
    fixes = {f["parent"]: f for f in c.values() if f["origin"] == "fix"}
    assert any(x["status"] == "build_failed" and fixes[k]["build"]["ok"] for k, x in c.items())  # build error fixed
    assert any(x["status"] == "run_failed" and fixes[k]["run"]["exit_code"] == 0 for k, x in c.items())  # run error fixed
    assert any(x.get("outcome") == "invalid" and "checksum" in x["outcome_reason"] for x in c.values())  # invalid rejected
    assert (run_dir / "plans" / "plan-02.md").exists()  # an improvement in Stage 3 brought a new plan
    assert any(x.get("temperature") == 0.4 for x in c.values())  # a miss raised the temperature
    assert "temperature schedule 0.2→0.8" in result.state["stop_reason"] or "budget" in result.state["stop_reason"]
    assert result.best["key"] != "000" and f"Best: v{result.best['version']:03d}" in done.stdout
    assert f"Best candidate: v{result.best['version']:03d}" in (run_dir / "report.md").read_text()
    for name in ("run.json", "checkpoints.sqlite", "llm.jsonl", "best/main.cpp", "best/grid.h"):
        assert (run_dir / name).exists(), name


def test_every_example_program_has_its_row_in_the_examples_readme_and_a_recorded_session():
    rows = re.findall(r"^\| ([a-z0-9][\w-]*) \|", (EXAMPLES / "README.md").read_text(), flags=re.M)
    programs = sorted(p.name for p in (EXAMPLES / "programs").iterdir())
    assert sorted(set(rows) - {"program"}) == programs
    assert all((EXAMPLES / "sessions" / name / "session.json").is_file() for name in programs)


@pytest.mark.parametrize("name", CPP_EXAMPLES)
def test_every_recorded_cpp_candidate_builds_unless_the_next_answer_fixes_its_build(name, tmp_path):
    """A session's whole files are real candidates: each builds with the default g++ line, except one
    recorded as a build error, which the session's next coder answer says it fixes."""
    session = EXAMPLES / "sessions" / name / "session.json"
    coder = json.loads(session.read_text())["responses"]["coder"]
    program = load_program(EXAMPLES / "programs" / name)
    built: dict[str, bool] = {}
    for n, entry in enumerate(coder):
        if entry["code_file"] not in built:
            workspace = tmp_path / f"w{n}"
            stage_workspace(program, workspace, {program.main: (session.parent / entry["code_file"]).read_text()})
            built[entry["code_file"]] = build(workspace, build_command("cpp", program.main)).ok
        if not built[entry["code_file"]]:
            assert coder[n + 1]["text"].startswith("Fixed the build error"), entry["code_file"]
    assert sum(built.values()) >= len(built) - 1 >= 1


def test_plume3d_prints_the_same_figures_whatever_the_thread_count(tmp_path):
    """Its sums are taken row by row and added in a fixed order, so one thread and two print the same
    digits (only the timing line differs), and it checks itself."""
    program = load_program(EXAMPLES / "programs" / "plume3d")
    workspace = tmp_path / "w"
    stage_workspace(program, workspace, {})
    assert build(workspace, build_command("cpp", program.main)).ok
    timing = re.compile("|".join(DEFAULT_MASKS), re.I)
    printed = []
    for threads in ("1", "2"):
        done = subprocess.run([str(workspace / BINARY_NAME), "48", "32", "16", "20"], capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": threads}, timeout=60)
        assert done.returncode == 0, done.stderr
        printed.append([line for line in done.stdout.splitlines() if not timing.search(line)])
    assert printed[0] == printed[1]
    assert len(printed[0]) == 5 and printed[0][-1] == "Verification: PASS"  # header, 2 diagnostics, budget, verdict
