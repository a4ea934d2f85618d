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
