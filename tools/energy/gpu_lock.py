"""One measurement at a time per GPU, across processes and users: a run's energy would include
another run's work if two measured on the same GPU at once."""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.errors import LassiError


def lock_path(uuid: str) -> Path:
    return Path(os.environ.get("LASSI_LOCK_DIR") or tempfile.gettempdir()) / f"lassi-ee-{uuid}.lock"


@contextmanager
def gpu_lock(uuid: str) -> Iterator[None]:
    """Hold the GPU's lock for the block; wait (saying so once) while another run holds it."""
    path = lock_path(uuid)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise LassiError(f"cannot open the GPU lock {path} ({exc.strerror}); set LASSI_LOCK_DIR to a writable folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"lassi-ee: waiting for GPU {uuid}: another run is measuring on it ({path})", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
