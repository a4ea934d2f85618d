"""`lassi-ee bench --cpus-per-trial N` / `--gpus LIST`: a suite's trials side by side, each on a slot of its
own (a set of cores, a GPU) that no other trial shares, resumable like a serial bench, with a status view."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.bench import bench, status
from tests.helpers import ROOT
from tests.helpers.programs import INVALID, VALID, answer, sleeper

# The sleeper, printing the cores it may run on: each candidate's stdout says where it was measured.
CORES_INCLUDE = "#include <sched.h>\n"
CORES_PRINT = ('    cpu_set_t set; sched_getaffinity(0, sizeof set, &set);\n'
               '    for (int c = 0; c < CPU_SETSIZE; ++c) if (CPU_ISSET(c, &set)) std::printf("core %d\\n", c);\n'
               '    return 0;\n}')


def pinned(wait_ms: int) -> str:
    code = CORES_INCLUDE + sleeper(wait_ms)
    return code[:code.rindex("    return 0;")] + CORES_PRINT + "\n"


@pytest.fixture
def pinned_suite(program, session, tmp_path, monkeypatch):
    """Two trials of the pinned sleeper, locks in tmp_path. Its rewrites wait 25 and 30 times longer than
    the source, so however loaded the machine, every trial takes the same path: none is better."""
    monkeypatch.setenv("LASSI_LOCK_DIR", str(tmp_path))
    (program / "main.cpp").write_text(pinned(20))
    model = session({"coder": [answer(pinned(500)), answer(pinned(600))], "judge": [VALID, INVALID],
                     "planner": ["plan"], "reporter": ["comparison"]})
    path = tmp_path / "pinned.toml"
    path.write_text(f'model = "{model}"\ntrials = 2\nmax-iterations = 1\nrepeats = 2\n\n'
                    f'[[program]]\nfolder = "sleeper"\nargs = "100"\n')
    return path


def cores_measured(trial: Path) -> set[str]:
    """The cores every measured candidate of a trial printed."""
    return {line for out in trial.glob("candidates/*/stdout*") for line in out.read_text().splitlines()
            if line.startswith("core ")}


def test_trials_side_by_side_each_run_and_are_measured_on_their_own_cores(pinned_suite, tmp_path):
    lines: list[str] = []
    result = bench(pinned_suite, tmp_path / "out", say=lines.append, cpus_per_trial=1)
    row = result.figures["programs"][0]
    assert row["finished"] == 2
    trial_1, trial_2 = (tmp_path / "out" / "sleeper" / f"trial-{n}" for n in (1, 2))
    assert cores_measured(trial_1) == {"core 0"} and cores_measured(trial_2) == {"core 1"}
    assert "[sleeper 1] == sleeper trial 1/2: starting in" in "\n".join(lines)
    assert any(line.startswith("[sleeper 2] ") and "(cores 1)" in line for line in lines)
    assert any(line.startswith("[sleeper 2] ") and "executor   v000 source" in line for line in lines)
    table = status(pinned_suite, tmp_path / "out")
    assert [line.split()[3] for line in table.splitlines()[1:]] == ["finished", "finished"]
    assert all(" pid " in line for line in table.splitlines()[1:])


def test_two_trials_asked_for_one_gpu_never_run_on_it_at_once(pinned_suite, tmp_path):
    """A stand-in holds the GPU's lock; both trials wait for it, then run one after the other."""
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; sys.path.insert(0, '.')\n"
        "from tools.energy.gpu_lock import gpu_lock\n"
        "with gpu_lock('GPU-stand-in'):\n    print('held', flush=True); sys.stdin.read()")],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    trials = [subprocess.Popen([sys.executable, "-m", "app.parallel", str(pinned_suite), str(out), "sleeper", str(n),
                                "--gpu=GPU-stand-in"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for n in (1, 2)]
    for trial in trials:
        assert "lassi-ee: waiting for GPU GPU-stand-in: another run is using it" in trial.stderr.readline()
    assert not list(out.glob("sleeper/trial-*/run.json"))  # neither started while the stand-in held the GPU
    holder.communicate("")
    for trial in trials:
        trial.communicate(timeout=300)
        assert trial.returncode == 0
    runs = sorted((out / "sleeper" / f"trial-{n}" for n in (1, 2)), key=lambda t: (t / "run.json").stat().st_mtime_ns)
    first_ended = (runs[0] / "report.md").stat().st_mtime_ns
    assert first_ended <= (runs[1] / "run.json").stat().st_mtime_ns  # the second began after the first ended


def outcomes(figures: dict) -> dict:
    """What a suite report says happened, without the measured figures and times, which vary run to run, and
    the model calls: trials side by side may each ask for a summary that one of them alone asks for in
    another run, before the other found it in the shared cache."""
    counts = ("trials", "finished", "failed", "with_valid_saving", "candidates", "invalid", "discarded", "fixes")
    per_trial = ("trial", "status", "valid_saving", "best_origin", "stop_reason", "candidates", "invalid")
    return {p["program"]: ({k: p[k] for k in counts}, [{k: t[k] for k in per_trial} for t in p["per_trial"]])
            for p in figures["programs"]}


def test_a_killed_parallel_bench_resumes_to_the_report_of_an_uninterrupted_one(pinned_suite, tmp_path):
    command = [sys.executable, "-m", "app.cli", "bench", str(pinned_suite), "--cpus-per-trial", "1", "--out"]
    whole = subprocess.run([*command, str(tmp_path / "whole")], capture_output=True, text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr

    killed = subprocess.Popen([*command, str(tmp_path / "killed")], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    for line in killed.stdout:  # the kill point: trial 2 has measured its source (a checkpoint saved)
        if line.startswith("[sleeper 2] ") and "comparator v000 source" in line:
            break
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "killed" / "suite-report.json").exists()
    table = status(pinned_suite, tmp_path / "killed")
    assert "sleeper trial 2/2  paused" in table  # started, not running, not failed

    again = subprocess.run([*command, str(tmp_path / "killed")], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "sleeper trial 2/2: resuming" in again.stdout
    resumed = json.loads((tmp_path / "killed" / "suite-report.json").read_text())
    assert outcomes(resumed) == outcomes(json.loads((tmp_path / "whole" / "suite-report.json").read_text()))
    ledger = json.loads((tmp_path / "killed" / "sleeper" / "bench.json").read_text())
    assert ledger["trials"]["2"]["sessions"] == 2  # the second trial was resumed, not started again
