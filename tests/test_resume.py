"""A run killed with SIGKILL continues from its last checkpoint without redoing finished work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import VALID, answer, sleeper


def lassi(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "graph.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_resume_after_sigkill_finishes_without_rebuilding_or_remeasuring(program, session, tmp_path):
    model = session({"coder": [answer(sleeper(40)), answer(sleeper(2500))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    run_dir = tmp_path / "run"
    first = lassi("optimize", str(program), "--args", "100", "--model", model, "--max-iterations", "1",
                  "--run-dir", str(run_dir), cwd=tmp_path)
    wait_for(run_dir / "candidates" / "v002-plan-step" / "work" / "program")  # built; about to run for 2.5 s
    time.sleep(1.0)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    finished = run_dir / "candidates" / "v001-zero-shot"
    stamps = {name: (finished / name).stat().st_mtime_ns for name in ("build.log", "measurement.json", "stdout.txt")}
    assert not (run_dir / "report.md").exists()

    second = lassi("resume", str(run_dir), cwd=tmp_path)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "Best: v001" in out and (run_dir / "report.md").exists()
    assert {name: (finished / name).stat().st_mtime_ns for name in stamps} == stamps
    assert "v001" not in "".join(line for line in out.splitlines() if "compiler" in line or "executor" in line)
    assert sorted(p.name for p in (run_dir / "candidates").iterdir()) == ["v000-source", "v001-zero-shot",
                                                                         "v002-plan-step"]


def test_resume_of_a_finished_run_only_reports_it(program, session, tmp_path):
    model = session({"coder": [answer(sleeper(40)), answer(sleeper(320))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    run_dir = tmp_path / "run"
    done = lassi("optimize", str(program), "--model", model, "--max-iterations", "1", "--run-dir", str(run_dir),
                 cwd=tmp_path)
    assert done.wait(timeout=120) == 0
    again = lassi("resume", str(run_dir), cwd=tmp_path)
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0 and "Best: v001" in out and "compiler" not in out


def test_a_model_that_stays_down_stops_the_run_resumably_and_resume_finishes_it(program, session, tmp_path):
    import json

    down = {"error": "transient", "times": 99}
    model = session({"coder": [down, answer(sleeper(40)), answer(sleeper(320))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    run_dir = tmp_path / "run"
    first = lassi("optimize", str(program), "--model", model, "--max-iterations", "1", "--max-llm-retries", "1",
                  "--run-dir", str(run_dir), cwd=tmp_path)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 1 and "Traceback" not in err
    assert f"continue it with `lassi-ee resume {run_dir}`" in err and len(err.strip().splitlines()) == 1

    session_file = Path(model.removeprefix("scripted:"))  # the model is back
    data = json.loads(session_file.read_text())
    data["responses"]["coder"] = data["responses"]["coder"][1:]
    session_file.write_text(json.dumps(data))
    second = lassi("resume", str(run_dir), cwd=tmp_path)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "Best: v001" in out and "v000" not in "".join(l for l in out.splitlines() if "executor" in l)
