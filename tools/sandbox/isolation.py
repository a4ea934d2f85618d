"""Isolation with bubblewrap: where a contained program may write, what it may reach.

Where bubblewrap works (`bwrap`) the program runs in its own namespaces: no network, of the host's
filesystem only the system and toolchain folders (read-only) and its workspace (writable), private
size-capped memory folders for /tmp, /var/tmp, /run and /dev/shm (so no host socket can be reached),
of /dev only the basic nodes and the GPU nodes it needs, and a PID namespace that dies with it, taking
every process it started along. Elsewhere (`none`) only the resource caps of
tools/sandbox/containment.py apply, with a private temporary folder made fresh for each run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tools.errors import LassiError
from tools.sandbox.containment import Limits

MODES = ("auto", "bwrap", "none")
NVIDIA_SHARED_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-caps")
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/sys")
HIDDEN_FILES = ("/etc/shadow", "/etc/gshadow")  # readable by root even without its capabilities
PRIVATE_MEMORY_FOLDERS = ("/tmp", "/var/tmp", "/run", "/dev/shm")  # tmpfs, sized by Limits.scratch_bytes


@dataclass(frozen=True)
class Sandbox:
    """How a build or run is contained. `mode` is what is used: "bwrap" or "none"; `why` says why."""

    mode: str
    why: str
    limits: Limits = field(default_factory=Limits)
    devices: tuple[str, ...] = ()  # device nodes the program may open (the chosen GPU's), bwrap only
    pass_env: tuple[str, ...] = ()  # variables the user passes to programs beside the usual ones
    read_only: tuple[str, ...] = ()  # paths bound read-only over themselves (include folders)
    guarded: tuple[tuple[str, str], ...] = ()  # (name, folder) a program must leave as it is: unseen under
    # bubblewrap, watched and put back without it (tools/sandbox/guard.py)

    def describe(self) -> str:
        if self.mode == "bwrap":
            shown = ", ".join(d for d in self.devices if os.path.exists(d)) or "none"
            isolation = (f"bubblewrap: no network, system folders read-only, the workspace writable, private /tmp,"
                         f" /var/tmp, /run and /dev/shm, devices: {shown}")
        else:
            isolation = f"resource limits only, no filesystem or network isolation ({self.why})"
        return f"{isolation}; {self.limits.describe()}"

    def command(self, argv: list[str], workspace: Path, readable: tuple[str, ...] = ()) -> list[str]:
        """`argv` as it must be started to run contained in `workspace` (checked to be a real folder).

        `readable`: host files or folders outside the system folders the program must read (a tool it
        is run with, a library injected into it).
        """
        if self.mode != "bwrap":
            return list(argv)
        args = self._isolation()
        for path in (*_toolchain_root(argv[0], workspace), *readable):
            args += ["--ro-bind-try", path, path]
        args += ["--bind", str(workspace), str(workspace)]
        # after the private /tmp and the workspace: an include folder under /tmp is seen again, and a file
        # shared into the workspace (hard-linked from the program folder) stays read-only
        for path in (*self.read_only, *linked_files(workspace)):
            args += ["--ro-bind", path, path]
        # the root bwrap builds (and the folders it makes above the workspace) is read-only too
        return [*args, "--remount-ro", "/", "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
                "--chdir", str(workspace), "--", *argv]

    def _isolation(self) -> list[str]:
        args = [bwrap_path(), "--die-with-parent", "--new-session", "--unshare-all"]
        for folder in SYSTEM_FOLDERS:
            if os.path.islink(folder):  # /bin -> usr/bin on merged-/usr systems
                args += ["--symlink", os.readlink(folder), folder]
            elif os.path.isdir(folder):
                args += ["--ro-bind", folder, folder]
        for hidden in HIDDEN_FILES:
            if os.path.exists(hidden):
                args += ["--ro-bind", "/dev/null", hidden]
        args += ["--dev", "/dev", "--proc", "/proc"]
        if os.geteuid() == 0:  # a privileged bwrap keeps root's capabilities unless told otherwise
            args += ["--cap-drop", "ALL"]
        for node in self.devices:
            if os.path.exists(node):
                args += ["--dev-bind", node, node]
        for folder in PRIVATE_MEMORY_FOLDERS:
            args += ["--size", str(self.limits.scratch_bytes), "--tmpfs", folder]
        return args + ["--remount-ro", "/dev"]


def linked_files(workspace: Path) -> list[str]:
    """The hard-linked files of a workspace: the program folder's own big files, shared rather than
    copied (tools/program.py), which a contained program may read and never write."""
    return sorted(str(p) for p in workspace.rglob("*") if p.is_file() and not p.is_symlink() and p.stat().st_nlink > 1)


def _toolchain_root(program: str, workspace: Path) -> tuple[str, ...]:
    """The install folder (above its bin/) of a program outside the system folders and the workspace."""
    found = shutil.which(program)
    if found is None or Path(found).is_relative_to(workspace):
        return ()
    root = Path(found).resolve().parent.parent
    return () if str(root).startswith(SYSTEM_FOLDERS) else (str(root),)


def choose_sandbox(mode: str = "auto", limits: Limits | None = None, devices: tuple[str, ...] = (),
                   pass_env: tuple[str, ...] = ()) -> Sandbox:
    """Resolve a sandbox mode (auto, bwrap, none); auto uses bubblewrap where it works and says why when not."""
    limits = limits or Limits()
    if mode not in MODES:
        raise ValueError(f"sandbox mode {mode!r} is none of {', '.join(MODES)}")
    if mode == "none":
        return Sandbox("none", "the sandbox mode none was chosen", limits, pass_env=pass_env)
    problem = bwrap_problem()
    if problem is None:
        return Sandbox("bwrap", "bubblewrap works here", limits, tuple(devices), pass_env)
    if mode == "bwrap":
        raise LassiError(f"{{setting}} bwrap cannot be used: {problem}; install bubblewrap or choose {{setting}} auto",
                         setting="sandbox")
    return Sandbox("none", problem, limits, pass_env=pass_env)


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
