"""Run a built program contained (tools/sandbox/), with a time limit and a cap on the output it keeps.

What the program printed is kept with the values of secret variables masked (tools/secrets.py), so
no key reaches a saved output, a fix prompt or the report even if a program finds one and prints it.
"""

from __future__ import annotations

import ctypes
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from tools.sandbox.containment import Containment, raised_by
from tools.sandbox.environment import contained_env
from tools.sandbox.guard import describe, guard_for
from tools.sandbox.isolation import PRIVATE_MEMORY_FOLDERS, Sandbox
from tools.sandbox.scratch import private_folder, real_folder
from tools.secrets import mask

PR_SET_PDEATHSIG = 1
REAPER = Path(__file__).with_name("reaper.py")


@dataclass
class RunResult:
    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    truncated: bool = False
    stopped: str = ""  # why the containment stopped it (too many processes, too much memory)
    left_running: int = 0  # processes it left behind when it ended, found and killed
    sandbox: str = ""  # the containment it ran under: "bwrap" or "none"
    cpu_s: float | None = None  # user + system CPU time of the program and all it started; None: stopped early
    peak_tasks: int = 0  # the most processes and threads it ran at once (the kernel's count, or sampled)

    @property
    def ok(self) -> bool:
        """Exited 0, within its limits, with all of its output kept (a flood cannot be compared)."""
        return self.exit_code == 0 and not self.timed_out and not self.stopped and not self.truncated

    def failure(self, time_limit: float) -> str:
        """One line saying how the run failed ('' when it did not)."""
        if self.timed_out:
            return f"ran past its time limit of {time_limit:g} s and was stopped{raised_by('time-limit')}"
        if self.stopped:
            return self.stopped
        if self.exit_code == -signal.SIGXFSZ:
            return f"wrote a file past the file-size limit and was stopped (SIGXFSZ){raised_by('max-file-mb')}"
        if self.exit_code is not None and self.exit_code < 0:
            try:
                name = signal.Signals(-self.exit_code).name
            except ValueError:
                name = f"signal {-self.exit_code}"
            return f"was killed by {name}"
        if self.exit_code:
            return f"exited with code {self.exit_code}"
        if self.truncated:
            return ("printed more output than is kept, so its output cannot be compared in full"
                    f"{raised_by('max-output-mb')}")
        return ""

    def error_text(self, limit: int = 4000) -> str:
        """What the program said before failing, for the LLM: the end of stderr and stdout."""
        parts = [f"[stderr]\n{self.stderr[-limit:]}" if self.stderr.strip() else "",
                 f"[stdout]\n{self.stdout[-limit:]}" if self.stdout.strip() else ""]
        return "\n".join(p for p in parts if p) or "(the program printed nothing)"

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["stdout"], data["stderr"]
        return data


def line_buffered(argv: list[str]) -> list[str]:
    """`argv` started through stdbuf where it exists, so a C or C++ program writes each line of its standard
    output as it prints it: what a program killed at its time limit printed is then kept."""
    stdbuf = shutil.which("stdbuf")
    return [stdbuf, "-oL", *argv] if stdbuf else list(argv)


def run_program(argv: list[str], cwd: Path, time_limit: float, env: dict[str, str] | None = None,
                output_cap: int | None = None, sandbox: Sandbox | None = None,
                readable: tuple[str, ...] = ()) -> RunResult:
    """Run `argv` contained in its workspace `cwd`; on timeout or a breached cap kill its whole tree.

    The program's HOME and temporary folder are private and new for this run (a memory folder under
    bubblewrap, a fresh folder of the tool's otherwise): nothing a program left from an earlier run is
    reused. `env` adds to the minimal environment (tools/sandbox/environment.py); `readable` names host
    files outside the system folders the program must read under bubblewrap.
    """
    sandbox = sandbox or Sandbox("none", "no sandbox was chosen")
    cwd = real_folder(cwd)
    guard = guard_for(sandbox.guarded) if sandbox.mode == "none" and sandbox.guarded else None
    if guard is not None:
        guard.prepare(cwd)
    with (private_folder() as home,
          Containment(sandbox.limits, (cwd, home), PRIVATE_MEMORY_FOLDERS if sandbox.mode == "bwrap" else ()) as box):
        full_env = contained_env("/tmp" if sandbox.mode == "bwrap" else str(home), {**(env or {}), **box.child_env()},
                                 sandbox.pass_env)

        def child_setup() -> None:
            _die_with_parent()
            box.child_setup()

        ready, told = os.pipe()
        try:
            proc = subprocess.Popen(_reaped(sandbox.command(argv, cwd, readable), told, sandbox), cwd=cwd, env=full_env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, preexec_fn=child_setup, pass_fds=(told,))
        except BaseException:
            os.close(ready)
            raise
        finally:
            os.close(told)
        kept = output_cap or sandbox.limits.output_bytes  # per stream; the rest is read and dropped
        readers = [_CappedReader(proc.stdout, kept), _CappedReader(proc.stderr, kept)]
        box.watch(proc.pid)
        start = time.perf_counter()
        ended, usage, counted, reaper_cpu_s, left_running = False, None, None, None, 0
        try:
            reaper_cpu_s = _started(ready, time_limit)
            start = time.perf_counter()  # the program's time starts now, the reaper's own start-up left out
            ended = _ended(proc.pid, time_limit)
        finally:  # on timeout, on Ctrl-C, and for what a finished program left behind, escaped or not
            seconds = time.perf_counter() - start
            if ended:
                usage = _reap(proc)
                counted = box.cpu_s()  # the cgroup's figure, where the run has one that counts CPU time
                left_running = box.sweep()
            box.kill(root_reaped=ended)
            if not ended:
                _reap(proc)
            box.sweep()
    for reader in readers:
        reader.join()
    out, err = readers
    timed_out = not ended
    code = None if timed_out else _exit_code(proc.returncode, sandbox)
    if not box.why and box.fork_refused and code:  # it failed on its own, between two looks of the watchdog
        box.why = box.refusal()
    if guard is not None and (changed := guard.restore(cwd)):  # once nothing of it is left running
        box.why = describe(changed)
    return RunResult(exit_code=code, stdout=mask(out.text()), stderr=mask(err.text()), seconds=round(seconds, 6),
                     timed_out=timed_out and not box.why, truncated=out.truncated or err.truncated, stopped=box.why,
                     left_running=left_running, sandbox=sandbox.mode, peak_tasks=box.peak,
                     cpu_s=_cpu_s(usage, counted, reaper_cpu_s) if not box.why else None)


def _reaped(argv: list[str], told: int, sandbox: Sandbox) -> list[str]:
    """`argv` started by the reaper (tools/sandbox/reaper.py), which says its start-up's CPU time on `told`."""
    return [sys.executable, "-I", "-S", str(REAPER), str(told), "all" if sandbox.mode == "bwrap" else "ended",
            "--", *argv]


def _started(ready: int, timeout: float) -> float | None:
    """Wait for the reaper's word that it starts the program: the CPU time its own start-up took (None if
    it never said: it then failed before starting anything)."""
    try:
        if not select.select([ready], [], [], timeout)[0]:
            return None
        said = os.read(ready, 64).decode()
        return float(said) if said.endswith("\n") else None
    except (OSError, ValueError):
        return None
    finally:
        os.close(ready)


def _ended(pid: int, timeout: float) -> bool:
    """Whether the process ended within `timeout`, learnt the moment it ends (Popen.wait looks only every
    50 ms, which would add up to 50 ms to a runtime); it is left unreaped, for _reap."""
    try:
        exited = os.pidfd_open(pid)
    except OSError:  # a kernel before Linux 5.3: look every millisecond
        deadline = time.monotonic() + timeout
        while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True
    try:
        return bool(select.select([exited], [], [], timeout)[0])
    finally:
        os.close(exited)


def _reap(proc: subprocess.Popen) -> resource.struct_rusage:
    """Reap the reaper, and with it the kernel's count of the CPU time of all it reaped."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage


def _cpu_s(usage: resource.struct_rusage | None, counted: float | None, reaper_cpu_s: float | None) -> float | None:
    """The program's CPU time, user + system: all its processes used, less the reaper's own start-up.

    Where the run has a cgroup that counts CPU time (`counted`), that is the figure: every task of the
    run is in it from its start, whoever reaps it. Otherwise it is what the reaper reaped: the kernel adds
    a reaped process's time to its reaper's, and every process of the run, bubblewrap's and the program's,
    is reaped below the reaper (a subreaper) or by it; only a child of a process that ignores SIGCHLD is
    reaped by no one, its time lost as with any rusage. Neither depends on anything the program says.
    None where the run was stopped before it could be reaped in full.
    """
    if usage is None or reaper_cpu_s is None:
        return None
    used = counted if counted is not None else usage.ru_utime + usage.ru_stime
    return round(max(used - reaper_cpu_s, 0.0), 6)


def _exit_code(code: int, sandbox: Sandbox) -> int:
    """bubblewrap reports a program killed by signal N as exit status 128 + N: give it back as -N."""
    if sandbox.mode == "bwrap" and 128 < code < 128 + 65:
        return 128 - code
    return code


def _find_prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _find_prctl()  # looked up before any fork: the child must not load libraries


def _die_with_parent() -> None:
    """In the child: ask Linux to kill it if LASSI-EE itself is killed, so no run outlives its meter."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)


class _CappedReader(threading.Thread):
    """Drains a pipe so the child never blocks, keeping only the first `cap` bytes."""

    def __init__(self, stream: IO[bytes], cap: int):
        super().__init__(daemon=True)
        self.stream, self.cap, self.kept, self.truncated = stream, cap, bytearray(), False
        self.start()

    def run(self) -> None:
        while chunk := self.stream.read(65536):
            room = self.cap - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            if len(chunk) > max(room, 0):
                self.truncated = True
        self.stream.close()

    def join(self, timeout: float | None = 10.0) -> None:
        super().join(timeout)

    def text(self) -> str:
        return self.kept.decode(errors="replace")
