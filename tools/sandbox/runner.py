"""Run a built program contained (tools/sandbox/), with a time limit and a cap on the output it keeps.

What the program printed is kept with the values of secret variables masked (tools/secrets.py), so
no key reaches a saved output, a fix prompt or the report even if a program finds one and prints it.
"""

from __future__ import annotations

import ctypes
import resource
import shutil
import signal
import subprocess
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
    cpu_s: float | None = None  # user + system CPU time of the program and its children; None: not observable
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

        start, used_before = time.perf_counter(), _children_cpu_s()
        proc = subprocess.Popen(sandbox.command(argv, cwd, readable), cwd=cwd, env=full_env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, preexec_fn=child_setup)
        kept = output_cap or sandbox.limits.output_bytes  # per stream; the rest is read and dropped
        readers = [_CappedReader(proc.stdout, kept), _CappedReader(proc.stderr, kept)]
        box.watch(proc.pid)
        timed_out, left_running = False, 0
        try:
            proc.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:  # on timeout, on Ctrl-C, and for what a finished program left behind, escaped or not
            seconds = time.perf_counter() - start
            if proc.returncode is not None:
                left_running = box.sweep()
            box.kill(root_reaped=proc.returncode is not None)
            proc.wait()
            cpu_s = _children_cpu_s() - used_before
            box.sweep()
    for reader in readers:
        reader.join()
    out, err = readers
    code = None if timed_out else _exit_code(proc.returncode, sandbox)
    if not box.why and box.fork_refused and code:  # it failed on its own, between two looks of the watchdog
        box.why = box.refusal()
    if guard is not None and (changed := guard.restore(cwd)):  # once nothing of it is left running
        box.why = describe(changed)
    return RunResult(exit_code=code, stdout=mask(out.text()), stderr=mask(err.text()), seconds=round(seconds, 6),
                     timed_out=timed_out and not box.why, truncated=out.truncated or err.truncated, stopped=box.why,
                     left_running=left_running, sandbox=sandbox.mode, peak_tasks=box.peak,
                     cpu_s=round(cpu_s, 6) if sandbox.mode != "bwrap" else None)


def _children_cpu_s() -> float:
    """CPU seconds of this process's reaped children so far: its change over a run is the run's CPU time.

    Runs are made one at a time, so no other child is reaped in between. Under bubblewrap the
    program's time does not reach us: bubblewrap's monitor exits on its init's word without reaping
    it, so the program's rusage is lost and its CPU time is recorded as unknown, not as bwrap's own.
    """
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


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
