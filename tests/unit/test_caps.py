"""The default caps fit honest programs and still bound hostile ones; a stop names the setting to raise."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import tools.sandbox.containment as containment_module
from graph.context import make_context
from nodes.shared.containment import run_sandbox, task_cap
from tests.helpers import FIXTURES
from tools.sandbox.containment import (
    Limits,
    candidate_max_tasks,
    default_max_tasks,
    machine_max_tasks,
    pids_cgroup_parent,
)
from tools.sandbox.isolation import Sandbox, bwrap_problem
from tools.sandbox.runner import run_program

OPENMP_1024 = r"""
#include <cstdio>
#include <omp.h>
#include <unistd.h>
int main() {
    int team = 0;
    #pragma omp parallel num_threads(1024)
    {
        #pragma omp single
        team = omp_get_num_threads();
        usleep(200000);
    }
    std::printf("threads %d\n", team);
}
"""


@pytest.fixture(params=["bwrap", "none"])
def mode(request) -> str:
    if request.param == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    return request.param


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ with OpenMP")
def test_an_openmp_program_asking_for_1024_threads_runs_under_the_default_caps(mode, tmp_path):
    (tmp_path / "main.cpp").write_text(OPENMP_1024)
    subprocess.run(["g++", "-fopenmp", "-O1", "main.cpp", "-o", "program"], cwd=tmp_path, check=True)
    result = run_program([str(tmp_path / "program")], tmp_path, 120, sandbox=Sandbox(mode, "test", Limits()))
    assert result.ok, result.failure(120)
    assert result.stdout == "threads 1024\n"


def test_the_default_task_cap_scales_with_the_machine_but_stays_bounded():
    cores = os.cpu_count() or 1
    assert default_max_tasks() == min(machine_max_tasks(), max(4096, 16 * cores))  # a fork bomb still stops there
    assert machine_max_tasks() <= int(Path("/proc/sys/kernel/pid_max").read_text()) // 4


def test_a_candidates_cap_covers_the_common_thread_counts_however_few_the_source_ran():
    floor = candidate_max_tasks(1)
    assert floor == min(machine_max_tasks(), max(2048, 16 * (os.cpu_count() or 1)))
    assert floor >= 1447 + 512  # num_threads(1024) with what an honest run of such code had beside it, and room
    assert candidate_max_tasks(0) == floor == candidate_max_tasks(floor // 4)


def test_a_source_that_runs_many_gives_its_candidates_four_times_its_peak_within_the_machine():
    assert candidate_max_tasks(1447) == min(machine_max_tasks(), 4 * 1447)  # a public benchmark's plain run
    assert candidate_max_tasks(10**7) == machine_max_tasks()  # a fork bomb in the source itself stays bounded


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ with OpenMP")
def test_an_honest_rewrite_with_1024_threads_runs_under_the_cap_a_one_thread_source_gives(mode, tmp_path):
    (tmp_path / "main.cpp").write_text(OPENMP_1024)
    subprocess.run(["g++", "-fopenmp", "-O1", "main.cpp", "-o", "program"], cwd=tmp_path, check=True)
    limits = Limits(max_tasks=candidate_max_tasks(1), tasks_origin="from the source's peak")
    result = run_program([str(tmp_path / "program")], tmp_path, 120, sandbox=Sandbox(mode, "test", limits))
    assert result.ok, result.failure(120)
    assert result.stdout == "threads 1024\n" and result.peak_tasks >= 1024


# Forks 3000 children (more than the floor), each gone after 20 s: bounded whatever the cap does.
FORK_BOMB = r"""
#include <cstdio>
#include <unistd.h>
int main() {
    int made = 0;
    for (int i = 0; i < 3000; ++i) { pid_t p = fork(); if (p == 0) { sleep(20); _exit(0); } made += p > 0; }
    std::printf("made %d\n", made);
    sleep(20);
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_a_fork_bomb_under_the_cap_a_one_thread_source_gives_is_stopped_and_named_with_its_origin(mode, tmp_path):
    (tmp_path / "main.cpp").write_text(FORK_BOMB)
    subprocess.run(["g++", "-O1", "main.cpp", "-o", "program"], cwd=tmp_path, check=True)
    cap = candidate_max_tasks(1)
    limits = Limits(max_tasks=cap, tasks_origin="the cap of a candidate's runs, from the source's peak of 1")
    result = run_program([str(tmp_path / "program")], tmp_path, 60, sandbox=Sandbox(mode, "test", limits))
    assert not result.ok and result.seconds < 30  # stopped at the cap, long before its children end
    why = result.failure(60)
    assert f"more than {cap} processes and threads at once" in why and "from the source's peak of 1" in why
    assert why.endswith("(the max-processes setting raises it)")
    if pids_cgroup_parent() is not None:  # held by the kernel: never more than the cap
        assert result.peak_tasks <= cap


@pytest.mark.parametrize("cgroup", [True, False], ids=["cgroup", "sampled"])
def test_the_most_processes_and_threads_a_run_had_at_once_is_measured(cgroup, monkeypatch, tmp_path):
    if cgroup and pids_cgroup_parent() is None:
        pytest.skip("no writable cgroup with the pids controller")
    if not cgroup:
        monkeypatch.setattr(containment_module, "pids_cgroup_parent", lambda: None)
    threads = "import threading, time\nts = [threading.Thread(target=time.sleep, args=(0.5,)) for _ in range(20)]\n" \
              "[t.start() for t in ts]\n[t.join() for t in ts]"
    result = run_program([os.path.realpath(shutil.which("python3")), "-c", threads], tmp_path, 30,
                         sandbox=Sandbox("none", "test"))
    assert result.ok and 21 <= result.peak_tasks <= 24


def test_a_program_stopped_at_the_process_cap_is_told_which_setting_raises_it(tmp_path):
    bomb = "import os, time\nfor _ in range(40):\n    if os.fork() == 0:\n        time.sleep(20); os._exit(0)\ntime.sleep(20)"
    limits = Limits(max_tasks=12, memory_bytes=4096 * 1024 * 1024)
    result = run_program([os.path.realpath(shutil.which("python3")), "-c", bomb], tmp_path, 30,
                         sandbox=Sandbox("none", "test", limits))
    assert "more than 12 processes and threads" in result.failure(30)
    assert result.failure(30).endswith("(the max-processes setting raises it)")


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ with OpenMP")
@pytest.mark.skipif(pids_cgroup_parent() is None, reason="the kernel holds the cap only with a pids cgroup")
def test_a_thread_refused_at_a_lower_cap_is_named_as_the_cap_not_as_the_programs_own_error(tmp_path):
    (tmp_path / "main.cpp").write_text(OPENMP_1024)
    subprocess.run(["g++", "-fopenmp", "-O1", "main.cpp", "-o", "program"], cwd=tmp_path, check=True)
    result = run_program([str(tmp_path / "program")], tmp_path, 120,
                         sandbox=Sandbox("none", "test", Limits(max_tasks=256)))
    assert "Thread creation failed" in result.stderr  # what the program itself says
    assert result.failure(120).startswith("tried to run more than 256 processes and threads")
    assert result.failure(120).endswith("(the max-processes setting raises it)")


# Each writes at most 160 MiB, slowly enough for the watchdog's look every quarter second, then waits.
MANY_FILES = ("import time\nfor i in range(20):\n    open(f'part{i}.bin', 'wb').write(b'x' * (8 << 20)); time.sleep(0.05)\n"
              "time.sleep(5)")
MEMFD = ("import os, time\nfds = [os.memfd_create(f'hoard{i}') for i in range(20)]\nfor fd in fds:\n"
         "    os.write(fd, b'x' * (8 << 20)); time.sleep(0.05)\ntime.sleep(5)")
SHM = ("import time\nfor i in range(20):\n    open(f'/dev/shm/hoard{i}', 'wb').write(b'x' * (8 << 20)); time.sleep(0.05)\n"
       "time.sleep(5)")
SCRATCH_CAP = Limits(max_tasks=64, memory_bytes=1024 << 20, file_bytes=16 << 20, scratch_bytes=64 << 20)


@pytest.mark.parametrize("hoard", [MANY_FILES, MEMFD], ids=["many-files", "memfd"])
def test_bytes_spread_over_files_or_hidden_in_memory_files_count_against_one_scratch_cap(mode, hoard, tmp_path):
    result = run_program([os.path.realpath(shutil.which("python3")), "-c", hoard], tmp_path, 60,
                         sandbox=Sandbox(mode, "test", SCRATCH_CAP))
    assert not result.ok and "wrote more than 64 MiB to its workspace" in result.failure(60)
    assert result.failure(60).endswith("(the scratch-mb setting raises it)")
    assert sum(p.stat().st_size for p in tmp_path.glob("part*.bin")) < 160 << 20


def test_under_bubblewrap_dev_shm_is_private_and_counted(tmp_path):
    if bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    result = run_program([os.path.realpath(shutil.which("python3")), "-c", SHM], tmp_path, 60,
                         sandbox=Sandbox("bwrap", "test", SCRATCH_CAP))
    assert not result.ok and not os.path.exists("/dev/shm/hoard0")
    assert "(the scratch-mb setting raises it)" in result.failure(60) or "No space left on device" in result.stderr


def stage0_state(tmp_path, task_cap: dict | None) -> dict:
    run = {"task_cap": task_cap} if task_cap else {}
    return {"language": "cpp", "run_dir": str(tmp_path), "program": str(FIXTURES / "sleeper"),
            "candidates": {"000": {"version": 0, "run": run}}}


def test_candidates_runs_get_the_cap_derived_in_stage_0_and_the_source_before_it_the_default(tmp_path):
    ctx = make_context(sandbox="none")
    derived = task_cap(ctx, 3)
    assert derived["max_tasks"] == candidate_max_tasks(3) and "4 × the 3 the source ran at its peak" in derived["how"]
    limits = run_sandbox(stage0_state(tmp_path, derived), ctx).limits
    assert limits.max_tasks == candidate_max_tasks(3) and "the cap of a candidate's runs" in limits.tasks_origin
    assert run_sandbox(stage0_state(tmp_path, None), ctx).limits.max_tasks == default_max_tasks()


def test_a_cap_the_user_set_holds_for_candidates_too_and_is_recorded_as_theirs(tmp_path):
    ctx = make_context(sandbox="none", max_processes=300)
    assert task_cap(ctx, 3) == {"max_tasks": 300, "source_peak": 3, "how": "set by the max-processes setting"}
    recorded = task_cap(make_context(sandbox="none"), 3)  # recorded before the setting was given, on a resume
    limits = run_sandbox(stage0_state(tmp_path, recorded), ctx).limits
    assert limits.max_tasks == 300 and limits.tasks_origin == ""


def test_run_sandbox_guards_the_run_directory_and_the_program_folder(tmp_path):
    guarded = dict(run_sandbox(stage0_state(tmp_path, None), make_context(sandbox="none")).guarded)
    assert guarded == {"run directory": str(tmp_path.resolve()), "program folder": str(FIXTURES / "sleeper")}
