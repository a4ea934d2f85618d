"""Isolation with bubblewrap: where a contained program may write, what it may reach.

Where bubblewrap works (`bwrap`) the program runs in its own namespaces: no network, the filesystem
read-only except its scratch folder, a private /tmp inside that folder, of /dev only the basic nodes
and the GPU nodes it needs, and a PID namespace that dies with it, taking every process it started
along. Elsewhere (`none`) only the resource caps of tools/sandbox/containment.py apply.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tools.errors import LassiError
from tools.sandbox.containment import Limits, MiB

MODES = ("auto", "bwrap", "none")
NVIDIA_SHARED_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-caps")
SHM_BYTES = 64 * MiB  # /dev/shm inside the sandbox: private and small (it lives in memory)


@dataclass(frozen=True)
class Sandbox:
    """How a build or run is contained. `mode` is what is used: "bwrap" or "none"; `why` says why."""

    mode: str
    why: str
    limits: Limits = field(default_factory=Limits)
    devices: tuple[str, ...] = ()  # device nodes the program may open (the chosen GPU's), bwrap only
    read_only: tuple[str, ...] = ()  # paths bound read-only over themselves (include folders)

    def describe(self) -> str:
        if self.mode == "bwrap":
            shown = ", ".join(d for d in self.devices if os.path.exists(d)) or "none"
            isolation = f"bubblewrap: no network, filesystem read-only except the scratch folder, devices: {shown}"
        else:
            isolation = f"resource limits only, no filesystem or network isolation ({self.why})"
        return f"{isolation}; {self.limits.describe()}"

    def command(self, argv: list[str], scratch: Path) -> list[str]:
        """`argv` as it must be started to run contained in `scratch` (its private /tmp is scratch/.tmp)."""
        if self.mode != "bwrap":
            return list(argv)
        scratch = scratch.resolve()
        # /tmp first: a scratch folder under /tmp is then bound inside the private /tmp; the read-only
        # paths last, so a folder under /tmp is seen again and a shared file inside the scratch stays read-only
        read_only = [arg for path in (*self.read_only, *linked_files(scratch)) for arg in ("--ro-bind", path, path)]
        return [*self._isolation(), "--bind", str(scratch / ".tmp"), "/tmp", "--bind", str(scratch), str(scratch),
                *read_only, "--setenv", "TMPDIR", "/tmp", "--chdir", str(scratch), "--", *argv]

    def _isolation(self) -> list[str]:
        args = [bwrap_path(), "--die-with-parent", "--new-session", "--unshare-all", "--ro-bind", "/", "/",
                "--dev", "/dev", "--proc", "/proc"]
        if os.geteuid() == 0:  # a privileged bwrap keeps root's capabilities unless told otherwise
            args += ["--cap-drop", "ALL"]
        for node in self.devices:
            if os.path.exists(node):
                args += ["--dev-bind", node, node]
        return args + ["--size", str(SHM_BYTES), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]

    def environment(self, scratch: Path) -> dict[str, str]:
        """Variables for the contained program: temporary files go to its scratch folder."""
        return {} if self.mode == "bwrap" else {"TMPDIR": str(scratch.resolve() / ".tmp")}


def linked_files(scratch: Path) -> list[str]:
    """The hard-linked files of a scratch folder: the program folder's own big files, shared rather than
    copied (tools/program.py), which a contained program may read and never write."""
    return sorted(str(p) for p in scratch.rglob("*") if p.is_file() and not p.is_symlink() and p.stat().st_nlink > 1)


def choose_sandbox(mode: str = "auto", limits: Limits | None = None, devices: tuple[str, ...] = ()) -> Sandbox:
    """Resolve a sandbox mode (auto, bwrap, none); auto uses bubblewrap where it works and says why when not."""
    limits = limits or Limits()
    if mode not in MODES:
        raise ValueError(f"sandbox mode {mode!r} is none of {', '.join(MODES)}")
    if mode == "none":
        return Sandbox("none", "the sandbox mode none was chosen", limits)
    problem = bwrap_problem()
    if problem is None:
        return Sandbox("bwrap", "bubblewrap works here", limits, tuple(devices))
    if mode == "bwrap":
        raise LassiError(f"{{setting}} bwrap cannot be used: {problem}; install bubblewrap or choose {{setting}} auto",
                         setting="sandbox")
    return Sandbox("none", problem, limits)


def bwrap_path() -> str:
    return shutil.which("bwrap") or "bwrap"


@cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot contain a program here (not installed, namespaces refused), or None."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [*Sandbox("bwrap", "probe")._isolation(), "--", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not start ({exc})"
    if done.returncode != 0:
        said = " ".join(done.stderr.split())[:200] or f"exit status {done.returncode}"
        return f"bubblewrap does not work here ({said})"
    return None
