"""Containment of the code a model wrote: hostile programs are stopped or walled in, and nothing outlives them.

Every hostile program here is bounded by construction (a fork bomb makes at most a few hundred
processes, each living at most 20 s; a file or an allocation stops at a fixed size), so a failure of
the containment under test cannot take the machine down with it.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

import tools.sandbox.containment as containment_module
import tools.sandbox.isolation as isolation_module
from tools.errors import LassiError
from tools.sandbox.containment import Limits, pids_cgroup_parent
from tools.sandbox.isolation import Sandbox, bwrap_problem, choose_sandbox
from tools.sandbox.runner import run_program

MiB = 1024 * 1024
SMALL = Limits(max_tasks=32, memory_bytes=64 * MiB, file_bytes=4 * MiB)

needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bubblewrap unusable: {bwrap_problem()}")


@pytest.fixture(params=["bwrap", "none with cgroup", "none"])
def box(request, monkeypatch) -> Sandbox:
    """Each containment this machine can offer: bubblewrap, bare limits with a pids cgroup, bare limits alone."""
    mode, _, cgroup = request.param.partition(" with ")
    if mode == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    if cgroup and pids_cgroup_parent() is None:
        pytest.skip("no writable cgroup with the pids controller")
    if not cgroup:
        monkeypatch.setattr(containment_module, "pids_cgroup_parent", lambda: None)
    return Sandbox(mode, "test", SMALL)


# The interpreter itself rather than a virtual environment's link to it: a checkout (and its .venv)
# under /tmp is hidden inside the sandbox, whose /tmp is private.
PYTHON = os.path.realpath(sys.executable)


def python(code: str, *args: str) -> list[str]:
    return [PYTHON, "-c", code, *args]


def survivors(marker: str) -> list[int]:
    """Processes whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# At most 200 processes, each gone after 20 s whatever happens.
FLAT_BOMB = """
import os, time
for _ in range(200):
    try:
        if os.fork() == 0:
            time.sleep(20); os._exit(0)
    except OSError:
        pass
time.sleep(20)
"""

# A binary tree of depth 6 (at most 127 processes), each in a session of its own, each gone after 20 s.
SESSION_BOMB = """
import os, time
depth = 0
while depth < 6:
    for _ in range(2):
        try:
            pid = os.fork()
        except OSError:
            continue
        if pid == 0:
            os.setsid(); depth += 1; break
    else:
        break
time.sleep(20)
"""


@pytest.mark.parametrize("bomb", [FLAT_BOMB, SESSION_BOMB], ids=["flat", "new-sessions"])
def test_a_fork_bomb_is_stopped_whole_and_promptly(box, bomb, tmp_path):
    marker = f"bomb-{os.getpid()}-{time.monotonic_ns()}"
    start = time.monotonic()
    roomy = replace(box, limits=replace(SMALL, memory_bytes=4096 * MiB))  # forked copies count their shared pages
    result = run_program(python(bomb, marker), tmp_path, 60, sandbox=roomy)
    assert time.monotonic() - start < 15
    assert not result.ok and "more than 32 processes and threads" in result.failure(60)
    time.sleep(0.5)
    assert survivors(marker) == []
    mine = f"lassi-ee-{os.getpid()}-*"  # this process's cgroups: other runs on the machine may hold theirs
    assert not list(Path(str(pids_cgroup_parent() or "/nonexistent")).glob(mine))


def test_a_huge_file_stops_at_the_file_size_limit(box, tmp_path):
    code = "f = open('big', 'wb')\nfor _ in range(32): f.write(b'x' * 1048576)"  # 32 MiB at most
    result = run_program(python(code), tmp_path, 60, sandbox=box)
    assert not result.ok and "File too large" in result.stderr
    assert (tmp_path / "big").stat().st_size <= 4 * MiB


def test_memory_over_the_cap_is_stopped(box, tmp_path):
    code = ("import resource, time\nresource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "blocks = []\nfor _ in range(16):\n    blocks.append(b'x' * (16 << 20)); time.sleep(0.05)\n"
            "time.sleep(20)")  # 256 MiB at most
    result = run_program(python(code), tmp_path, 60, sandbox=box)
    assert not result.ok and result.failure(60).startswith("used more than 64 MiB of memory")


def test_a_program_that_spins_forever_is_stopped_at_its_time_limit(box, tmp_path):
    result = run_program(python("while True: pass"), tmp_path, 1, sandbox=box)
    assert result.timed_out and result.failure(1).startswith("ran past its time limit of 1 s and was stopped (the time-limit setting")


def test_a_well_behaved_program_keeps_its_workspace_files_and_its_temporary_files_vanish(box, tmp_path):
    code = "import tempfile; print(tempfile.mkstemp()[1]); open('out.txt', 'w').write('kept')"
    result = run_program(python(code), tmp_path, 60, sandbox=box)
    assert result.ok, result.stderr
    assert (tmp_path / "out.txt").read_text() == "kept" and not (tmp_path / ".tmp").exists()
    assert not Path(result.stdout.strip()).exists()  # in a private folder made for this run alone


@needs_bwrap
def test_with_bubblewrap_files_outside_the_scratch_folder_cannot_be_deleted_or_written(tmp_path):
    with tempfile.TemporaryDirectory(dir=Path.home()) as home_folder:  # outside /tmp, which the sandbox replaces
        outside = Path(home_folder)
        victim = outside / "keep.txt"
        victim.write_text("precious")
        code = f"""
import os
import signal
for attempt in (lambda: os.remove({str(victim)!r}), lambda: open({str(outside / 'new.txt')!r}, 'w')):
    try:
        attempt(); print('done')
    except OSError as exc:
        print(exc.strerror)
open('/tmp/private.txt', 'w').write('x')
"""
        result = run_program(python(code), tmp_path, 60, sandbox=Sandbox("bwrap", "test", SMALL))
        assert result.ok, result.stderr
        assert result.stdout.splitlines() == ["No such file or directory"] * 2  # the home is not even there
        assert victim.read_text() == "precious" and not (outside / "new.txt").exists()
    assert not Path("/tmp/private.txt").exists()


@needs_bwrap
def test_with_bubblewrap_there_is_no_network(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5); print('connected')"
    result = run_program(python(code), tmp_path, 60, sandbox=Sandbox("bwrap", "test", SMALL))
    with pytest.raises(socket.timeout):
        listener.accept()
    listener.close()
    assert not result.ok and "connected" not in result.stdout and "Connection refused" in result.stderr


@needs_bwrap
def test_with_bubblewrap_only_the_device_nodes_given_are_visible(tmp_path):
    code = "import os; print(sorted(n for n in os.listdir('/dev') if n.startswith(('kmsg', 'fuse', 'loop'))))"
    plain = run_program(python(code), tmp_path, 60, sandbox=Sandbox("bwrap", "test", SMALL))
    given = run_program(python(code), tmp_path, 60, sandbox=Sandbox("bwrap", "test", SMALL, ("/dev/kmsg",)))
    assert plain.stdout.strip() == "[]"
    assert given.stdout.strip() == ("['kmsg']" if Path("/dev/kmsg").exists() else "[]")


@needs_bwrap
def test_with_bubblewrap_a_signal_is_reported_as_the_signal(tmp_path):
    result = run_program(python("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"), tmp_path, 60,
                         sandbox=Sandbox("bwrap", "test", SMALL))
    assert result.failure(60) == "was killed by SIGSEGV"


def test_auto_falls_back_to_resource_limits_and_says_why_when_bubblewrap_is_missing(monkeypatch):
    monkeypatch.setattr(isolation_module.shutil, "which", lambda name: None)
    bwrap_problem.cache_clear()
    try:
        chosen = choose_sandbox("auto")
        assert chosen.mode == "none" and chosen.why == "bubblewrap (bwrap) is not installed"
        assert "no filesystem or network isolation (bubblewrap (bwrap) is not installed)" in chosen.describe()
        with pytest.raises(LassiError) as refused:
            choose_sandbox("bwrap")
        assert refused.value.setting == "sandbox"
        assert refused.value.spelled(lambda name: f"--{name}") == (
            "--sandbox bwrap cannot be used: bubblewrap (bwrap) is not installed; install bubblewrap or choose "
            "--sandbox auto")
    finally:
        bwrap_problem.cache_clear()


def test_the_description_names_every_cap():
    text = Sandbox("none", "--sandbox none was chosen", SMALL).describe()
    assert "at most 32 processes and threads" in text and "64 MiB of memory" in text and "files up to 4 MiB" in text


def test_a_program_gets_the_default_action_of_the_signals_python_ignores(box, tmp_path):
    """A program past its file-size limit dies of SIGXFSZ, one writing to a closed pipe of SIGPIPE, whatever
    Python process started it: an ignored signal would stay ignored across exec and the write just fail."""
    for name in ("SIGXFSZ", "SIGPIPE"):
        result = run_program(["sh", "-c", f"kill -{name.removeprefix('SIG')} $$; echo survived"], tmp_path, 60, sandbox=box)
        assert result.exit_code == -getattr(signal, name) and "survived" not in result.stdout, (name, result)
