"""The shipped C++/OpenMP demo: its scripted session walks every stage of the pipeline for real.

Which candidates beat the best is decided by real timings, so the assertions name the stages the
session must pass through, not the exact order a noisy machine might produce.
"""

from __future__ import annotations

import subprocess
import sys

from app.api import resume
from tests.helpers import ROOT

EXAMPLES = ROOT / "examples"


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
