"""Resource caps for a contained process tree: files, memory, processes and threads, and its kill.

The caps apply everywhere: a file-size cap (RLIMIT_FSIZE), no core dumps, and caps on the tasks
(processes and threads) and resident memory of the program's whole tree. The task cap is held by the
kernel where it can be: a cgroup with the pids controller when the cgroup tree is writable, else
RLIMIT_NPROC (which the kernel does not apply to root). A watchdog checks both caps as well and stops a
program the moment a fork is refused at the cap, so a fork bomb ends at once rather than at its time
limit.
"""

from __future__ import annotations

import itertools
import os
import resource
import signal
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

MiB = 1024 * 1024
POLL_S = 0.05  # how often the watchdog looks at the program's processes
CGROUP_PREFIX = "lassi-ee-"
_serial = itertools.count()


def default_max_tasks() -> int:
    """Enough for an OpenMP team on every core, a compiler's helpers and slack; far below a fork bomb."""
    return max(256, 2 * (os.cpu_count() or 1) + 64)


def default_memory_bytes() -> int:
    """Three quarters of the machine's memory: a candidate may be large, but the machine stays usable."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 16 * 1024 * MiB
    return total * 3 // 4


@dataclass(frozen=True)
class Limits:
    max_tasks: int = field(default_factory=default_max_tasks)  # processes and threads at once
    memory_bytes: int = field(default_factory=default_memory_bytes)  # resident sets of the tree, summed
    file_bytes: int = 4096 * MiB  # the largest file a program may write
    scratch_bytes: int = 256 * MiB  # each private memory folder (/tmp, /var/tmp, /run, /dev/shm) under bubblewrap

    def describe(self) -> str:
        return (f"at most {self.max_tasks} processes and threads ({task_cap_holder()}), "
                f"{_size(self.memory_bytes)} of memory, files up to {_size(self.file_bytes)}")




@cache
def pids_cgroup_parent() -> Path | None:
    """A cgroup folder under which this process may create children with a pids.max, or None.

    cgroup v1 has a pids hierarchy of its own; under v2 the pids controller must already be enabled
    for the children of this process's cgroup. The probe creates and removes one child.
    """
    for line in _read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "pids":
            base = Path("/sys/fs/cgroup/pids") / path.lstrip("/")
        elif controllers == "" and "pids" in _read(Path("/sys/fs/cgroup") / path.lstrip("/") / "cgroup.subtree_control"):
            base = Path("/sys/fs/cgroup") / path.lstrip("/")
        else:
            continue
        probe = base / f"{CGROUP_PREFIX}probe-{os.getpid()}"
        try:
            probe.mkdir()
            try:
                (probe / "pids.max").write_text("1")
            finally:
                probe.rmdir()
            return base
        except OSError:
            continue
    return None


def task_cap_holder() -> str:
    """What holds the task cap here, for the report."""
    if pids_cgroup_parent() is not None:
        return "held by a cgroup"
    if os.geteuid() != 0:
        return "held by RLIMIT_NPROC and a watchdog"
    return "held by a watchdog"


class Containment:
    """One contained process tree: the child's limits, its cgroup, a watchdog, and a kill of the whole tree.

    Use as a context manager around the program's life: `child_setup` goes to Popen's preexec_fn,
    `watch(pid)` starts the watchdog, and leaving the block kills whatever is left and removes the
    cgroup. `why` says which cap stopped the program ('' when none did).
    """

    def __init__(self, limits: Limits):
        self.limits = limits
        self.why = ""
        self.root: int | None = None
        self.cgroup = _make_cgroup(limits.max_tasks)
        self._procs_fd = os.open(self.cgroup / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) if self.cgroup else None
        self._nproc = None if self.cgroup or os.geteuid() == 0 else _user_tasks() + limits.max_tasks
        self._finished = threading.Event()
        self._watchdog: threading.Thread | None = None

    def __enter__(self) -> "Containment":
        return self

    def __exit__(self, *exc) -> None:
        self._finished.set()
        if self._watchdog is not None:
            self._watchdog.join(5)
        if self._procs_fd is not None:
            os.close(self._procs_fd)
        if self.cgroup is not None:
            for _ in range(200):  # nothing in the cgroup can fork past its cap, so this ends quickly
                members = self.members()
                if not members:
                    break
                _signal_all(members, signal.SIGKILL)
                time.sleep(0.01)
            _remove(self.cgroup)

    def child_setup(self) -> None:
        """In the child between fork and exec: join the cgroup, then the resource limits."""
        if self._procs_fd is not None:
            os.write(self._procs_fd, b"0")  # 0 is the writing process
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limits.file_bytes, self.limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self._nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (self._nproc, self._nproc))

    def watch(self, root: int) -> None:
        self.root = root
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()

    def kill(self, root_reaped: bool = False) -> None:
        """SIGKILL the program's process group, its tree and its cgroup.

        Everything is stopped (SIGSTOP) before anything is killed: a stopped process cannot fork,
        and its children stay its children, so a tree that left the process group (a new session,
        bubblewrap's namespace init) is found whole instead of orphans escaping to init. Once the
        root has been reaped its number may be someone else's: then only its group and cgroup count.
        """
        if self.root is None:
            return
        _signal_group(self.root, signal.SIGSTOP)
        stopped: set[int] = set()
        for _ in range(100):
            new = self.members(include_root=not root_reaped) - stopped
            if not new:
                break
            _signal_all(new, signal.SIGSTOP)
            stopped |= new
        _signal_group(self.root, signal.SIGKILL)
        _signal_all(stopped | self.members(include_root=not root_reaped), signal.SIGKILL)

    def members(self, include_root: bool = True) -> set[int]:
        """The processes of the program: its cgroup where it has one, else its tree and process group."""
        if self.cgroup is not None:
            return {int(p) for p in _read(self.cgroup / "cgroup.procs").split()}
        return _tree(self.root, _process_table(), include_root) if self.root is not None else set()

    def _watch(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._finished.wait(POLL_S):
            tasks, pages, refused = self._usage()
            if refused:
                self.why = (f"tried to run more than {self.limits.max_tasks} processes and threads at once"
                            " (a fork was refused) and was stopped")
            elif tasks > self.limits.max_tasks:
                self.why = (f"ran more than {self.limits.max_tasks} processes and threads at once ({tasks} seen)"
                            " and was stopped")
            elif pages * page > self.limits.memory_bytes:
                self.why = (f"used more than {_size(self.limits.memory_bytes)} of memory ({_size(pages * page)} seen)"
                            " and was stopped")
            if self.why:
                self.kill()
                return

    def _usage(self) -> tuple[int, int, bool]:
        """(tasks, resident pages, whether a fork was refused at the cap)."""
        if self.cgroup is not None:
            refused = _read(self.cgroup / "pids.events").split()[1:2] not in ([], ["0"])
            pages = sum(_resident_pages(p) for p in self.members())
            return int(_read(self.cgroup / "pids.current") or 0), pages, refused
        table = _process_table()
        members = _tree(self.root, table)
        return sum(table[p][1] for p in members), sum(table[p][2] for p in members), False


def _make_cgroup(max_tasks: int) -> Path | None:
    parent = pids_cgroup_parent()
    if parent is None:
        return None
    for stale in parent.glob(f"{CGROUP_PREFIX}*-*"):  # left by a run that was killed: removed once empty
        owner = stale.name.removeprefix(CGROUP_PREFIX).split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _remove(stale)
    folder = parent / f"{CGROUP_PREFIX}{os.getpid()}-{next(_serial)}"
    try:
        folder.mkdir()
        (folder / "pids.max").write_text(str(max_tasks))
        return folder
    except OSError:
        _remove(folder)
        return None


def _remove(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _user_tasks() -> int:
    """Tasks this user runs now: RLIMIT_NPROC counts them all, so the cap is set above them."""
    uid, tasks = os.getuid(), 0
    for entry in _proc_entries():
        try:
            if entry.stat().st_uid == uid:
                tasks += int(_stat_fields(entry.name)[17])
        except (OSError, ValueError, IndexError):
            continue
    return tasks


def _signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _process_table() -> dict[int, tuple[int, int, int, int]]:
    """pid -> (parent, tasks, resident pages, process group), from /proc."""
    table = {}
    for entry in _proc_entries():
        try:
            fields = _stat_fields(entry.name)
            table[int(entry.name)] = (int(fields[1]), int(fields[17]), int(fields[21]), int(fields[2]))
        except (OSError, ValueError, IndexError):
            continue
    return table


def _tree(root: int, table: dict[int, tuple[int, int, int, int]], include_root: bool = True) -> set[int]:
    """`root`, the members of its process group, and all their descendants."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    seen = {pid for pid, row in table.items() if (pid == root and include_root) or row[3] == root}
    todo = list(seen)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _resident_pages(pid: int) -> int:
    try:
        return int(_read(f"/proc/{pid}/statm").split()[1])
    except (IndexError, ValueError):
        return 0


def _proc_entries():
    try:
        return [e for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return []


def _stat_fields(pid: str) -> list[str]:
    """/proc/PID/stat after the command name: [state, ppid, pgrp, session, ...] (field 3 onwards)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        text = f.read().decode(errors="replace")
    return text[text.rindex(")") + 2:].split()


def _read(path) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _size(n: int) -> str:
    return f"{n / 1024**3:.3g} GiB" if n >= 1024**3 else f"{n / MiB:.3g} MiB"
