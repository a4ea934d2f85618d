"""One user at a time per GPU, and per CPU core, across processes and users: a run's energy would include
another run's work if two ran on the same GPU (or the same cores) at once.

A measurement holds its GPU's lock for its repeats; a bench trial holds its GPU's lock, or its cores'
locks, for the whole trial (measured repeats, workload counting, check-args runs). Within one process
the locks nest: a measurement inside a trial that holds the GPU already goes on.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tools.errors import LassiError

_held: dict[Path, int] = {}  # the locks this process holds, and how deeply


def lock_path(uuid: str) -> Path:
    return Path(os.environ.get("LASSI_LOCK_DIR") or tempfile.gettempdir()) / f"lassi-ee-{uuid}.lock"


def gpu_lock(uuid: str):
    """Hold the GPU's lock for the block; wait (saying so once) while another run holds it."""
    return _lock(lock_path(uuid), f"GPU {uuid}")


@contextmanager
def cpu_lock(cores: Iterable[int]) -> Iterator[None]:
    """Hold the lock of each core for the block, in ascending order so that overlapping sets cannot deadlock."""
    with ExitStack() as stack:
        for core in sorted(set(cores)):
            stack.enter_context(_lock(lock_path(f"cpu{core}"), f"CPU core {core}"))
        yield


@contextmanager
def _lock(path: Path, what: str) -> Iterator[None]:
    if path in _held:
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise LassiError(f"cannot open the lock {path} ({exc.strerror}); set LASSI_LOCK_DIR to a writable folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"lassi-ee: waiting for {what}: another run is using it ({path})", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        _held[path] = 1
        try:
            yield
        finally:
            del _held[path]
    finally:
        os.close(fd)  # closing releases the lock
