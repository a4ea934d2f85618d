"""Running programs: time limits kill the whole process group, output is capped, failures are named."""

import sys
import time

from tools.sandbox.runner import run_program


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_successful_run_keeps_its_output(tmp_path):
    result = run_program(python("print('hello'); import sys; print('oops', file=sys.stderr)"), tmp_path, 30)
    assert result.ok and result.stdout == "hello\n" and result.stderr == "oops\n" and result.failure(30) == ""


def test_a_run_past_its_limit_is_stopped_with_its_children(tmp_path):
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    start = time.monotonic()
    result = run_program(python(code), tmp_path, 1)
    assert time.monotonic() - start < 15
    assert result.timed_out and not result.ok and result.failure(1).startswith("ran past its time limit of 1 s and was stopped (the time-limit setting")


def test_exit_codes_and_signals_are_named(tmp_path):
    assert run_program(python("raise SystemExit(3)"), tmp_path, 30).failure(30) == "exited with code 3"
    killed = run_program(python("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"), tmp_path, 30)
    assert killed.failure(30) == "was killed by SIGSEGV"


def test_output_beyond_the_cap_is_dropped_the_program_finishes_and_the_run_fails_naming_the_cap(tmp_path):
    result = run_program(python("import sys; sys.stdout.write('x' * 1_000_000)"), tmp_path, 30, output_cap=1000)
    assert result.exit_code == 0 and len(result.stdout) == 1000 and result.truncated
    assert not result.ok and "max-output-mb" in result.failure(30)


def test_the_program_runs_in_its_workspace(tmp_path):
    result = run_program(python("import os; print(os.getcwd())"), tmp_path, 30)
    assert result.stdout.strip() == str(tmp_path)


def test_interrupting_the_caller_stops_the_program(tmp_path):
    import os
    import signal
    import subprocess

    marker = "41.2511"
    caller = subprocess.Popen([sys.executable, "-c", "from tools.sandbox.runner import run_program; "
                               f"run_program(['sleep', '{marker}'], '.', 120)"], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    time.sleep(1.5)
    caller.send_signal(signal.SIGINT)
    caller.wait(timeout=30)
    time.sleep(0.5)
    alive = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout
    assert alive.strip() == ""
