"""`lassi-ee bench --executor slurm` on a real one-node Slurm started for the test: each trial a Slurm job
submitted through submitit, the suite report assembled where the command runs, a requeued trial going on
from its checkpoints, and `--status` naming every trial's job."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from benchmarks.parallel_suite import threads_measured, two_trial_heat2d_suite
from tests.helpers import ROOT
from tests.helpers.slurm import OneNodeSlurm, Unavailable

pytest.importorskip("submitit", reason="submitit is not installed (pip install 'lassi-ee[slurm]')")

SLURM_TABLE = "\n[slurm]\ncpus-per-trial = 1\ntime-limit = 10\n"


@pytest.fixture
def slurm(tmp_path):
    cluster = OneNodeSlurm(tmp_path / "slurm")
    try:
        cluster.start()
    except Unavailable as exc:
        pytest.skip(f"no one-node Slurm here: {exc}")
    cluster.env["LASSI_LOCK_DIR"] = str(tmp_path)
    yield cluster
    cluster.stop()


def lassi(cluster, *args: str, timeout: int = 420) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=cluster.env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_the_scripted_heat2d_suite_runs_as_slurm_jobs_and_its_report_is_assembled_here(slurm, tmp_path):
    suite, out = two_trial_heat2d_suite(tmp_path, SLURM_TABLE), tmp_path / "out"
    done = lassi(slurm, "bench", str(suite), "--out", str(out), "--executor", "slurm")
    assert done.returncode == 0, done.stderr + done.stdout
    jobs = dict(re.findall(r"== (\S+) trial 1/1: submitted as Slurm job (\d+)", done.stdout))
    assert set(jobs) == {"heat2d", "heat2d-small"}
    assert all(slurm.completed_jobs().get(job) == "COMPLETED" for job in jobs.values()), slurm.completed_jobs()
    figures = json.loads((out / "suite-report.json").read_text())
    assert [(p["program"], p["finished"]) for p in figures["programs"]] == [("heat2d", 1), ("heat2d-small", 1)]
    assert list(threads_measured(out).values()) == [{"1"}, {"1"}]  # each job measured on its one core

    table = lassi(slurm, "bench", str(suite), "--out", str(out), "--status").stdout.splitlines()
    assert [line.split()[3:5] for line in table[1:]] == [["finished", jobs["heat2d"]],
                                                         ["finished", jobs["heat2d-small"]]]
    again = lassi(slurm, "bench", str(suite), "--out", str(out), "--executor", "slurm")
    assert "0 trials started, 0 resumed, 2 finished earlier" in again.stdout  # nothing submitted twice


@pytest.mark.slow
def test_a_trial_whose_job_was_cancelled_goes_on_from_its_checkpoints_when_the_bench_runs_again(slurm, tmp_path):
    suite, out = two_trial_heat2d_suite(tmp_path, SLURM_TABLE), tmp_path / "out"
    command = ["bench", str(suite), "--out", str(out), "--executor", "slurm"]
    first = subprocess.Popen([sys.executable, "-m", "app.cli", *command], cwd=ROOT, env=slurm.env,
                             stdout=subprocess.PIPE, text=True)
    source = out / "heat2d" / "trial-1" / "candidates" / "v000-source" / "measurement.json"
    deadline = time.monotonic() + 300
    while not source.is_file() and time.monotonic() < deadline:  # the trial has measured its source...
        time.sleep(0.2)
    assert source.is_file()
    measured = source.stat().st_mtime_ns
    job = json.loads((out / "heat2d" / "bench.json").read_text())["trials"]["1"]["job"]
    subprocess.run(["scancel", job], env=slurm.env, check=True, capture_output=True)  # ...and its job is cancelled
    said, _ = first.communicate(timeout=420)
    assert f"heat2d trial 1/1: Slurm job {job} ended before the trial finished" in said

    again = lassi(slurm, *command)
    assert again.returncode == 0, again.stderr
    assert "0 trials started, 1 resumed, 1 finished earlier" in again.stdout
    ledger = json.loads((out / "heat2d" / "bench.json").read_text())
    assert ledger["trials"]["1"]["sessions"] == 2 and ledger["trials"]["1"]["job"] != job  # a new job went on
    assert source.stat().st_mtime_ns == measured  # with the source measured before
    figures = json.loads((out / "suite-report.json").read_text())
    assert [p["finished"] for p in figures["programs"]] == [1, 1]
