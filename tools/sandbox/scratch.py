"""Scratch space a contained program cannot shape: made fresh by the tool, checked without following links.

A program keeps its workspace between its runs, so anything it leaves there (a link where a folder
was, a link where the tool will read a file) is untrusted. The tool binds or reads only what it has
checked with lstat / O_NOFOLLOW, and every run gets a private folder made for it alone.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.errors import LassiError


def real_folder(path: Path) -> Path:
    """`path` made absolute, refused unless it is a folder itself and not a link to one."""
    path = Path(os.path.abspath(path))
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise LassiError(f"the workspace {path} cannot be used: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise LassiError(f"the workspace {path} is not a folder (a program left a link or a file in its place)")
    return path


@contextmanager
def private_folder() -> Iterator[Path]:
    """A new, empty folder readable by this user alone, removed with everything in it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="lassi-ee-scratch-"))
    try:
        yield folder
    finally:
        remove_tree(folder)


def remove_tree(folder: Path) -> None:
    """Remove a folder and its contents without following a link anywhere (a link is removed itself)."""
    try:
        if stat.S_ISDIR(os.lstat(folder).st_mode):
            shutil.rmtree(folder, ignore_errors=True)  # rmtree removes links inside, never what they name
        else:
            os.unlink(folder)
    except FileNotFoundError:
        pass


def folder_bytes(folder: Path) -> int:
    """Disk space the files under `folder` take (a sparse file counts what it holds), links not followed."""
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_blocks * 512
            except OSError:
                continue
    return total


def memory_file_bytes(pids: set[int]) -> int:
    """Bytes held in memory-only files the processes have open (memfd_create, /dev/shm), each counted once."""
    seen: dict[tuple[int, int], int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith(("/memfd:", "/dev/shm/")):
                    info = os.stat(f"/proc/{pid}/fd/{fd}")
                    seen[(info.st_dev, info.st_ino)] = info.st_blocks * 512
            except OSError:
                continue
    return sum(seen.values())


def private_mount_bytes(pids: set[int], folders: tuple[str, ...]) -> int:
    """Bytes used in the private memory folders of a sandbox, seen through its processes' root."""
    host = {os.stat(folder).st_dev for folder in folders if os.path.exists(folder)}
    used: dict[int, int] = {}
    for pid in pids:
        for folder in folders:
            try:
                path = f"/proc/{pid}/root{folder}"
                device = os.stat(path).st_dev
                if device not in host and device not in used:
                    fs = os.statvfs(path)
                    used[device] = (fs.f_blocks - fs.f_bfree) * fs.f_frsize
            except OSError:
                continue
    return sum(used.values())


def read_left_file(path: Path) -> str | None:
    """The text of a regular file a program wrote, or None when it is missing, a link or anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read().decode(errors="replace")
