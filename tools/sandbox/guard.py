"""Without bubblewrap a program may write wherever its user may: the folders the tool relies on are
watched around each of its runs, and what it changed there is put back.

Under bubblewrap these folders (the run directory, the program folder) are out of a program's sight.
Under `none` the guard notes, before a run, every entry under them (its kind, size, inode, mode, change
time, a link's target) and keeps a copy of the bytes of each file it has not seen so far or that the
tool has rewritten since; the running program's own workspace is left out. Nothing but the program
writes there while it runs (one writer per run directory, and the tool waits on the program), so after
the run an entry that is new, gone or changed is the program's doing: new ones are removed, the others
written back from the copies, and the run fails with a reason that names them. A change that cannot be
put back (a file too large to keep a copy of, or one the tool holds open, such as the checkpoints,
removed: its name is put back, but the tool would go on writing to the file without one) is an error.

The user's home and the rest of the machine are not watched: only bubblewrap keeps a program from them.
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from tools.errors import LassiError
from tools.sandbox.scratch import remove_tree

COPY_BUDGET_BYTES = 512 * 1024 * 1024  # copies kept in memory, all files together
SKIPPED = {".git", "__pycache__"}  # not staged into workspaces, not relied on (tools/program.py)
SHOWN = 6  # entries named in a reason; the rest are counted
WHAT = ("changed", "removed", "added")  # the order they are named in, folder by folder


@dataclass(frozen=True)
class Entry:
    kind: str  # file, folder, link, other
    mode: int
    ino: int
    dev: int
    size: int = 0
    changed_ns: int = 0  # st_ctime_ns: a program cannot set it back
    modified_ns: int = 0
    target: str = ""  # a link's

    @classmethod
    def of(cls, info: os.stat_result, path: str) -> "Entry":
        if stat.S_ISDIR(info.st_mode):  # a folder's times move with its entries, which are watched themselves
            return cls("folder", stat.S_IMODE(info.st_mode), info.st_ino, info.st_dev)
        if stat.S_ISLNK(info.st_mode):
            return cls("link", 0, info.st_ino, info.st_dev, target=os.readlink(path))
        kind = "file" if stat.S_ISREG(info.st_mode) else "other"
        return cls(kind, stat.S_IMODE(info.st_mode), info.st_ino, info.st_dev, info.st_size, info.st_ctime_ns,
                   info.st_mtime_ns)


@dataclass(frozen=True)
class Change:
    root: str  # the watched folder's name ("run directory")
    path: str  # relative to it
    what: str  # added, removed, changed

    def __str__(self) -> str:
        return f"{self.path} in the {self.root} ({self.what})"


class Guard:
    """The watched folders of one run, by name ({"run directory": path, ...}), with the copies to put them back."""

    def __init__(self, roots: tuple[tuple[str, str], ...]):
        self.roots = tuple((name, Path(path).resolve()) for name, path in roots)
        self.seen: dict[Path, Entry] = {}
        self.copies: dict[Path, bytes] = {}
        self.before: dict[Path, Entry] = {}

    def prepare(self, workspace: Path) -> None:
        """Note the folders as they are before a run of the program in `workspace`, and copy what is new."""
        self.before = self._scan(workspace)
        kept = 0
        by_inode: dict[tuple[int, int, int], bytes] = {}  # a file shared into workspaces is read once
        for path, entry in self.before.items():
            if entry.kind != "file":
                continue
            if self.seen.get(path) != entry or path not in self.copies:
                self.copies.pop(path, None)
                key = (*_identity(entry), entry.changed_ns)
                if key not in by_inode and kept + entry.size <= COPY_BUDGET_BYTES:
                    by_inode[key] = _read_file(path)
                if key in by_inode:
                    self.copies[path] = by_inode[key]
            if path in self.copies:
                kept += entry.size
        for path in set(self.copies) - set(self.before):
            del self.copies[path]
        self.seen = dict(self.before)

    def restore(self, workspace: Path) -> list[Change]:
        """After the run: what the program changed outside `workspace`, each put back as it was."""
        after = self._scan(workspace)
        changes = [self._change(path, "added") for path in sorted(set(after) - set(self.before))]
        changes += [self._change(path, "removed" if path not in after else "changed")
                    for path, entry in sorted(self.before.items()) if after.get(path) != entry]
        if not changes:
            return []
        lost = [c for c in changes if c.what != "added" and self.before[self._path(c)].kind == "file"
                and self._path(c) not in self.copies]
        if lost:
            raise LassiError(f"a program run without filesystem isolation changed {', '.join(map(str, lost))}, too"
                             " large to keep a copy of, so it cannot be put back: restore it, and run with"
                             " {setting} bwrap to keep programs away from it", setting="sandbox")
        for change in sorted((c for c in changes if c.what == "added"), key=lambda c: -len(Path(c.path).parts)):
            remove_tree(self._path(change))
        for change in sorted((c for c in changes if c.what != "added"), key=lambda c: len(Path(c.path).parts)):
            self._put_back(self._path(change))
        self.seen = self._scan(workspace)
        gone = _held_open_and_gone()
        if held := [c for c in changes if c.what != "added" and _identity(self.before[self._path(c)]) in gone]:
            raise LassiError(f"a program run without filesystem isolation removed {', '.join(map(str, held))}, which"
                             " this run holds open: it was put back as it was before that run, but what the run"
                             " writes next would be lost; resume the run to go on from there, with {setting} bwrap"
                             " to keep programs away from it", setting="sandbox")
        order = [name for name, _ in self.roots]
        return sorted(_topmost(changes), key=lambda c: (order.index(c.root), WHAT.index(c.what), c.path))

    def _put_back(self, path: Path) -> None:
        entry = self.before[path]
        try:
            now = Entry.of(os.lstat(path), str(path))
        except FileNotFoundError:
            now = None
        if entry.kind == "folder":
            if now is None or now.kind != "folder":
                if now is not None:
                    remove_tree(path)
                path.mkdir()
            os.chmod(path, entry.mode)
        elif entry.kind == "link":
            if now is not None:
                remove_tree(path)
            os.symlink(entry.target, path)
        elif entry.kind == "file":
            same_file = now is not None and now.kind == "file" and now.ino == entry.ino
            if now is not None and not same_file:
                remove_tree(path)
            # the same inode is written in place: its hard links (a workspace's shared files) are put back too
            flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_TRUNC if same_file else os.O_CREAT | os.O_EXCL)
            fd = os.open(path, flags, entry.mode)
            with os.fdopen(fd, "wb") as f:
                f.write(self.copies[path])
            os.chmod(path, entry.mode, follow_symlinks=False)
            os.utime(path, ns=(entry.modified_ns, entry.modified_ns), follow_symlinks=False)

    def _scan(self, workspace: Path) -> dict[Path, Entry]:
        """Every entry under the roots, links not followed, leaving out `workspace`, and each root inside another."""
        left_out = {workspace.resolve()} | {root.resolve() for _, root in self.roots}
        found: dict[Path, Entry] = {}
        for _, root in self.roots:
            todo = [root] if root.is_dir() and not root.is_symlink() else []
            while todo:
                folder = todo.pop()
                try:
                    entries = list(os.scandir(folder))
                except OSError:
                    continue
                for item in entries:
                    path = Path(item.path)
                    if item.name in SKIPPED or path in left_out:
                        continue
                    try:
                        entry = Entry.of(item.stat(follow_symlinks=False), item.path)
                    except OSError:
                        continue
                    found[path] = entry
                    if entry.kind == "folder":
                        todo.append(path)
        return found

    def _change(self, path: Path, what: str) -> Change:
        name, root = max(((n, r) for n, r in self.roots if path.is_relative_to(r)), key=lambda nr: len(nr[1].parts))
        return Change(name, str(path.relative_to(root)), what)

    def _path(self, change: Change) -> Path:
        return dict((name, root) for name, root in self.roots)[change.root] / change.path


def describe(changes: list[Change]) -> str:
    """A run's reason: what it changed outside its workspace (all of it put back), folder by folder."""
    by_root: dict[str, list[str]] = {}
    for change in changes[:SHOWN]:
        by_root.setdefault(change.root, []).append(f"{change.path} ({change.what})")
    shown = "; ".join(f"in the {root} {', '.join(entries)}" for root, entries in by_root.items())
    more = f"; and {len(changes) - SHOWN} more" if len(changes) > SHOWN else ""
    return (f"changed files outside its workspace, put back as they were: {shown}{more} (with the sandbox setting"
            " bwrap a program cannot reach them)")


def _topmost(changes: list[Change]) -> list[Change]:
    """The changes to name: the entries of a folder added or removed whole are not named one by one."""
    whole = {(c.root, c.path) for c in changes if c.what != "changed"}
    return [c for c in changes if not any((c.root, str(parent)) in whole for parent in Path(c.path).parents)]


_guards: dict[tuple, Guard] = {}
_lock = threading.Lock()


def guard_for(roots: tuple[tuple[str, str], ...]) -> Guard:
    """The guard of these folders, kept between runs so its copies are made once; one run's at a time."""
    with _lock:
        if roots not in _guards:
            _guards.clear()  # a process runs one run at a time: the last run's copies are let go
            _guards[roots] = Guard(roots)
        return _guards[roots]


def _identity(entry: Entry) -> tuple[int, int]:
    return entry.dev, entry.ino


def _held_open_and_gone() -> set[tuple[int, int]]:
    """The files this process holds open that no longer have a name (the checkpoints, the lock)."""
    gone = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            info = os.stat(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 0:
            gone.add((info.st_dev, info.st_ino))
    return gone


def _read_file(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        return f.read()
