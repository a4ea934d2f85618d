"""Resource caps for a contained process tree: files, memory, processes and threads, and its kill.

The caps apply everywhere: a file-size cap (RLIMIT_FSIZE), no core dumps, and caps on the tasks
(processes and threads) and resident memory of the program's whole tree. The task cap is held by the
kernel where it can be: a cgroup with the pids controller when the cgroup tree is writable, else
RLIMIT_NPROC (which the kernel does not apply to root). A watchdog checks both caps as well and stops a
program the moment a fork is refused at the cap, so a fork bomb ends at once rather than at its time
limit. Where a cgroup can count CPU time (v2, or v1's cpuacct), the tree is in one that does, so its
CPU time is known whoever reaps its processes.
"""

from __future__ import annotations

import itertools
import os
import resource
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tools.sandbox.scratch import folder_bytes, memory_file_bytes, private_mount_bytes

MiB = 1024 * 1024
POLL_S = 0.05  # how often the watchdog looks at the program's processes
SCRATCH_EVERY = 5  # polls between two counts of its scratch bytes (a walk of its folders)
CGROUP_PREFIX = "lassi-ee-"
MARK_VARIABLE = "LASSI_EE_RUN"  # set in every contained program: its descendants carry it, even those that escape
_serial = itertools.count()


def default_max_tasks() -> int:
    """The cap of a build, and of the source's own runs in Stage 0 (the user's code, not the model's): enough
    for an honest OpenMP program that asks for num_threads(1024) (plus its runtime's helpers and nested teams)
    or sixteen threads a core, whichever is more, within the machine's bound; held by the kernel where a
    cgroup can be made."""
    return min(machine_max_tasks(), max(4096, 16 * (os.cpu_count() or 1)))


CANDIDATE_FLOOR = 2048  # a num_threads(1024) team, its runtime's helpers and more beside it (1447 seen in one)
CANDIDATE_MARGIN = 4  # times the source's own peak


def candidate_max_tasks(source_peak: int) -> int:
    """The cap of a candidate's runs, from what the source itself ran at its peak in Stage 0.

    A rewrite may use more threads than the source (that is often the point), so the cap is never below
    a floor that holds the common choices whatever the source did: a num_threads(1024) team with its
    runtime's helpers and a nested team or a task pool beside it (an honest run of such code on a
    public benchmark had 1447 tasks), and sixteen threads a core (OpenMP on every core, nested or
    oversubscribed). A source that already runs many gets four times its own peak, room
    for a rewrite that nests a team or runs a task pool beside one. Either way the cap stays within the
    machine's bound, so a fork bomb stops at a few thousand tasks however hungry the source was.
    """
    floor = max(CANDIDATE_FLOOR, 16 * (os.cpu_count() or 1))
    return min(machine_max_tasks(), max(floor, CANDIDATE_MARGIN * source_peak))


def machine_max_tasks() -> int:
    """A quarter of the tasks the kernel allows at all (pid_max, threads-max): the rest of the machine keeps room."""
    allowed = [int(v) for v in (_read("/proc/sys/kernel/pid_max"), _read("/proc/sys/kernel/threads-max"))
               if v.strip().isdigit()]
    return max(64, min(allowed, default=32768) // 4)


def raised_by(setting: str) -> str:
    """The end of a reason a cap gave: which setting raises the cap (named as suites and reports do)."""
    return f" (the {setting} setting raises it)"


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
    tasks_origin: str = ""  # where max_tasks came from, for a stop's reason ('' for the default)
    memory_bytes: int = field(default_factory=default_memory_bytes)  # resident sets of the tree, summed
    file_bytes: int = 4096 * MiB  # the largest file a program may write
    output_bytes: int = 8 * MiB  # output kept per stream (stdout, stderr); a program printing more fails
    scratch_bytes: int = 1024 * MiB  # added to the workspace, temporary folders and memory files, all together

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


@cache
def cpu_cgroup_parent() -> Path | None:
    """A cgroup folder under which this process may create children that count their tasks' CPU time, or None.

    cgroup v2 counts it in every cgroup (cpu.stat), v1 in its cpuacct hierarchy (cpuacct.usage). A process
    is in one cgroup of each hierarchy, so the pids cgroup's own hierarchy is never taken: where it counts
    CPU time (v2) the pids cgroup itself is used. The probe creates and removes one child.
    """
    mounts = _cgroup_mounts()
    for line in _read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        mount = mounts.get("cgroup2") if controllers == "" else \
            mounts.get("cpuacct") if "cpuacct" in controllers.split(",") else None
        if mount is None or (base := mount / path.lstrip("/")) == pids_cgroup_parent():
            continue
        probe = base / f"{CGROUP_PREFIX}probe-{os.getpid()}"
        try:
            probe.mkdir()
            try:
                counted = cgroup_cpu_s(probe) is not None
            finally:
                probe.rmdir()
            if counted:
                return base
        except OSError:
            continue
    return None


def cgroup_cpu_s(folder: Path) -> float | None:
    """CPU seconds the tasks of a cgroup used, those that ended included (None: it does not count them)."""
    for line in _read(folder / "cpu.stat").splitlines():
        if line.startswith("usage_usec "):
            return int(line.split()[1]) / 1e6
    usage = _read(folder / "cpuacct.usage").strip()
    return int(usage) / 1e9 if usage.isdigit() else None


def _cgroup_mounts() -> dict[str, Path]:
    """Where the cgroup v2 tree ("cgroup2") and the v1 cpuacct hierarchy ("cpuacct") are mounted, where they are."""
    found = {}
    for line in _read("/proc/self/mountinfo").splitlines():
        fields = line.split(" - ")
        if len(fields) != 2 or len(after := fields[1].split()) < 3:
            continue
        mount_point = Path(fields[0].split()[4])
        if after[0] == "cgroup2":
            found.setdefault("cgroup2", mount_point)
        elif after[0] == "cgroup" and "cpuacct" in after[2].split(","):
            found.setdefault("cpuacct", mount_point)
    return found


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

    def __init__(self, limits: Limits, scratch: tuple[Path, ...] = (), private_mounts: tuple[str, ...] = ()):
        self.limits = limits
        self.scratch, self.private_mounts = scratch, private_mounts  # counted against limits.scratch_bytes
        self._scratch_before = sum(folder_bytes(f) for f in scratch)
        self.why = ""
        self.root: int | None = None
        self.cgroup = _make_cgroup(pids_cgroup_parent(), {"pids.max": str(limits.max_tasks)})
        self._procs_fd = os.open(self.cgroup / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) if self.cgroup else None
        self.cpu_cgroup = self.cgroup if self.cgroup and cgroup_cpu_s(self.cgroup) is not None else \
            _make_cgroup(cpu_cgroup_parent(), {})
        self._cpu_procs_fd = os.open(self.cpu_cgroup / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) \
            if self.cpu_cgroup and self.cpu_cgroup != self.cgroup else None
        self._nproc = None if self.cgroup or os.geteuid() == 0 else _nproc_limit(limits.max_tasks)
        self._finished = threading.Event()
        self._watchdog: threading.Thread | None = None
        self.mark = secrets.token_hex(8)
        self.fork_refused = False  # a fork or thread was refused at the cap at some point (cgroup only)
        self.peak = 0  # the most tasks seen at once: the kernel's count where the cgroup keeps one, else sampled

    def __enter__(self) -> "Containment":
        return self

    def __exit__(self, *exc) -> None:
        self._finished.set()
        if self._watchdog is not None:
            self._watchdog.join(5)
        for fd in (self._procs_fd, self._cpu_procs_fd):
            if fd is not None:
                os.close(fd)
        if self.cgroup is not None:
            self.fork_refused = self.fork_refused or self._usage()[2]
            self.peak = max(self.peak, int(_read(self.cgroup / "pids.peak").strip() or 0))
            for _ in range(200):  # nothing in the cgroup can fork past its cap, so this ends quickly
                members = self.members()
                if not members:
                    break
                _signal_all(members, signal.SIGKILL)
                time.sleep(0.01)
            _remove(self.cgroup)
        if self.cpu_cgroup is not None:
            _remove(self.cpu_cgroup)

    def child_setup(self) -> None:
        """In the child between fork and exec: join the cgroup, then the resource limits."""
        for fd in (self._procs_fd, self._cpu_procs_fd):
            if fd is not None:
                os.write(fd, b"0")  # 0 is the writing process
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limits.file_bytes, self.limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self._nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (self._nproc, self._nproc))

    def watch(self, root: int) -> None:
        self.root = root
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()

    def cpu_s(self) -> float | None:
        """The CPU time of every task that was in the program's CPU-counting cgroup, or None without one."""
        return cgroup_cpu_s(self.cpu_cgroup) if self.cpu_cgroup is not None else None

    def child_env(self) -> dict[str, str]:
        return {MARK_VARIABLE: self.mark}

    def sweep(self) -> int:
        """Kill what the program left running once it ended, wherever it went (its own session, out of its
        cgroup, reparented to init): its tree and cgroup, and any process carrying its mark. Returns how many."""
        left = self.members(include_root=False) | _marked(f"{MARK_VARIABLE}={self.mark}".encode())
        left.discard(os.getpid())
        if left:
            self.kill(root_reaped=True)
            _signal_all(left, signal.SIGKILL)
        return len(left)

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
        for tick in itertools.count():
            if self._finished.wait(POLL_S):
                return
            tasks, pages, refused = self._usage()
            self.peak = max(self.peak, tasks)
            scratch = self._scratch_used() if tick % SCRATCH_EVERY == 0 else 0
            if refused:
                self.fork_refused = True
                self.why = self.refusal()
            elif tasks > self.limits.max_tasks:
                self.why = (f"ran more than {self.limits.max_tasks} processes and threads at once ({tasks} seen"
                            f"{self._origin()})"
                            f" and was stopped{raised_by('max-processes')}")
            elif pages * page > self.limits.memory_bytes:
                self.why = (f"used more than {_size(self.limits.memory_bytes)} of memory ({_size(pages * page)} seen)"
                            f" and was stopped{raised_by('max-memory-mb')}")
            elif scratch > self.limits.scratch_bytes:
                self.why = (f"wrote more than {_size(self.limits.scratch_bytes)} to its workspace, temporary folders"
                            f" and memory files ({_size(scratch)} seen) and was stopped{raised_by('scratch-mb')}")
            if self.why:
                self.kill()
                return

    def _scratch_used(self) -> int:
        """Bytes the program added: files in its scratch folders, its private memory folders, its memory files."""
        members = self.members()
        return (sum(folder_bytes(f) for f in self.scratch) - self._scratch_before
                + private_mount_bytes(members, self.private_mounts) + memory_file_bytes(members))

    def refusal(self) -> str:
        return (f"tried to run more than {self.limits.max_tasks} processes and threads at once (a fork was refused"
                f"{self._origin()}) and was stopped{raised_by('max-processes')}")

    def _origin(self) -> str:
        return f"; {self.limits.tasks_origin}" if self.limits.tasks_origin else ""

    def _usage(self) -> tuple[int, int, bool]:
        """(tasks, resident pages, whether a fork was refused at the cap)."""
        if self.cgroup is not None:
            refused = _read(self.cgroup / "pids.events").split()[1:2] not in ([], ["0"])
            pages = sum(_resident_pages(p) for p in self.members())
            return int(_read(self.cgroup / "pids.current") or 0), pages, refused
        table = _process_table()
        members = _tree(self.root, table)
        return sum(table[p][1] for p in members), sum(table[p][2] for p in members), False


def _make_cgroup(parent: Path | None, settings: dict[str, str]) -> Path | None:
    """A new cgroup of this process under `parent`, its files written with `settings`; None where it cannot be."""
    if parent is None:
        return None
    for stale in parent.glob(f"{CGROUP_PREFIX}*-*"):  # left by a run that was killed: removed once empty
        owner = stale.name.removeprefix(CGROUP_PREFIX).split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _remove(stale)
    folder = parent / f"{CGROUP_PREFIX}{os.getpid()}-{next(_serial)}"
    try:
        folder.mkdir()
        for name, value in settings.items():
            (folder / name).write_text(value)
        return folder
    except OSError:
        _remove(folder)
        return None


def _remove(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _nproc_limit(max_tasks: int) -> int:
    """RLIMIT_NPROC counts all of this user's tasks: set it `max_tasks` above them, within the hard limit."""
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    wanted = _user_tasks() + max_tasks
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


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


def _marked(mark: bytes) -> set[int]:
    """Processes whose starting environment holds `mark`."""
    found = set()
    for entry in _proc_entries():
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if mark in f.read().split(b"\0"):
                    found.add(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


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
