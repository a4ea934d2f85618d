"""Run a built program contained (tools/sandbox.py), with a time limit and a cap on the output it keeps."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from tools.sandbox.containment import Containment
from tools.sandbox.isolation import Sandbox

PR_SET_PDEATHSIG = 1
DEFAULT_OUTPUT_CAP = 8 * 1024 * 1024  # bytes kept per stream; the rest is read and dropped


@dataclass
class RunResult:
    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    truncated: bool = False
    stopped: str = ""  # why the containment stopped it (too many processes, too much memory)
    sandbox: str = ""  # the containment it ran under: "bwrap" or "none"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.stopped

    def failure(self, time_limit: float) -> str:
        """One line saying how the run failed ('' when it did not)."""
        if self.timed_out:
            return f"ran past its time limit of {time_limit:g} s and was stopped"
        if self.stopped:
            return self.stopped
        if self.exit_code == -signal.SIGXFSZ:
            return "wrote a file past the file-size limit and was stopped (SIGXFSZ)"
        if self.exit_code is not None and self.exit_code < 0:
            try:
                name = signal.Signals(-self.exit_code).name
            except ValueError:
                name = f"signal {-self.exit_code}"
            return f"was killed by {name}"
        if self.exit_code:
            return f"exited with code {self.exit_code}"
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
                output_cap: int = DEFAULT_OUTPUT_CAP, sandbox: Sandbox | None = None) -> RunResult:
    """Run `argv` contained in its scratch folder `cwd`; on timeout or a breached cap kill its whole tree."""
    sandbox = sandbox or Sandbox("none", "no sandbox was chosen")
    cwd = Path(cwd)
    (cwd / ".tmp").mkdir(exist_ok=True)  # the program's private temporary folder
    full_env = {**os.environ, **sandbox.environment(cwd), **(env or {})}
    with Containment(sandbox.limits) as box:

        def child_setup() -> None:
            _die_with_parent()
            box.child_setup()

        start = time.perf_counter()
        proc = subprocess.Popen(sandbox.command(argv, cwd), cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                preexec_fn=child_setup)
        readers = [_CappedReader(proc.stdout, output_cap), _CappedReader(proc.stderr, output_cap)]
        box.watch(proc.pid)
        timed_out = False
        try:
            proc.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:  # on timeout, on Ctrl-C, and for children a finished program left behind
            seconds = time.perf_counter() - start
            box.kill(root_reaped=proc.returncode is not None)
            proc.wait()
            shutil.rmtree(cwd / ".tmp", ignore_errors=True)
    for reader in readers:
        reader.join()
    out, err = readers
    code = None if timed_out else _exit_code(proc.returncode, sandbox)
    return RunResult(exit_code=code, stdout=out.text(), stderr=err.text(), seconds=round(seconds, 6),
                     timed_out=timed_out and not box.why, truncated=out.truncated or err.truncated, stopped=box.why,
                     sandbox=sandbox.mode)


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
