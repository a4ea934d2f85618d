"""The shipped C++/OpenMP demo: its scripted session walks every stage of the pipeline for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parents[1] / "examples"


def test_the_heat2d_demo_walks_every_stage_from_the_cli(tmp_path):
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "graph.cli", "optimize", str(EXAMPLES / "programs" / "heat2d"),
                           "--model", f"scripted:{EXAMPLES / 'sessions' / 'heat2d' / 'session.json'}",
                           "--run-dir", str(run_dir)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    from graph.api import resume

    c = {k: v for k, v in resume(run_dir).state["candidates"].items()}
    assert c["001"]["status"] == "build_failed" and c["002"]["origin"] == "fix"          # a build error fixed
    assert c["003"]["status"] == "run_failed" and c["004"]["origin"] == "fix"            # a run error fixed
    assert c["002"]["outcome"] == c["004"]["outcome"] == "better"                        # improvements ...
    assert (run_dir / "plans" / "plan-02.md").exists()                                   # ... bring a new plan
    assert c["005"]["outcome"] == "invalid" and "checksum" in c["005"]["outcome_reason"]  # an invalid one rejected
    assert [c[k]["temperature"] for k in ("005", "006", "007", "008")] == [0.2, 0.4, 0.6, 0.8]  # misses heat up
    assert "temperature 1 passed the ceiling 0.8" in (run_dir / "report.md").read_text()  # and the run stops
    assert "Best: v004" in done.stdout and "Best candidate: v004" in (run_dir / "report.md").read_text()
    for name in ("run.json", "checkpoints.sqlite", "llm.jsonl", "best/main.cpp", "best/grid.h"):
        assert (run_dir / name).exists(), name
