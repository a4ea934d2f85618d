"""The run directory: where every file of a run lives, written before any state points at it."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.errors import LassiError

DEFAULT_ROOT = "lassi-runs"
LOCK_FILE = ".writer.lock"  # held (flock) by the one process writing the run; says which process that is
_APPEND_LOCK = threading.Lock()


class RunDir:
    """Paths of one run (see the README's 'Run directory')."""

    def __init__(self, path: str | Path):
        self.path = Path(path).resolve()

    @classmethod
    def create(cls, root: str | Path, program_name: str, path: str | Path | None = None) -> "RunDir":
        """A new, empty run directory: `path` as given, or a fresh `<root>/<time>-<program>`."""
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", program_name).strip("-") or "program"
            path = Path(root) / f"{stamp}-{slug}"
            suffix = 1
            while path.exists():
                suffix += 1
                path = Path(root) / f"{stamp}-{slug}-{suffix}"
        run = cls(path)
        if run.path.exists() and (not run.path.is_dir() or any(run.path.iterdir())):
            raise LassiError(f"run directory {run.path} exists and is not an empty folder: choose a new {{setting}}",
                              setting="run_dir")
        try:
            run.candidates.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LassiError(f"cannot create the run directory {run.path}: {exc.strerror}") from None
        return run

    @property
    def config(self) -> Path:
        return self.path / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints.sqlite"

    @property
    def llm_log(self) -> Path:
        return self.path / "llm.jsonl"

    @property
    def report(self) -> Path:
        return self.path / "report.md"

    @property
    def report_html(self) -> Path:
        return self.path / "report.html"

    @property
    def comparison(self) -> Path:
        """The reporter model's comparison of source and best, kept so the report can be rebuilt."""
        return self.path / "comparison.md"

    @property
    def best(self) -> Path:
        return self.path / "best"

    @property
    def candidates(self) -> Path:
        return self.path / "candidates"

    @property
    def context(self) -> Path:
        return self.path / "context"

    def candidate(self, version: int, origin: str) -> Path:
        return self.candidates / f"{version_label(version)}-{origin}"

    def relative(self, path: Path) -> str:
        """How state names a file of the run: relative to the run directory, so the run can move."""
        return str(Path(path).relative_to(self.path))

    def at(self, stored: str) -> Path:
        """The file a state path names, wherever the run directory lies now (absolute ones, of older runs, stay)."""
        return self.path / stored

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Be the run's one writer while the block runs; a second writer gets one line naming the first.

        The lock is the kernel's (flock), so it ends with the process that held it, however it ended.
        """
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LassiError(f"the run in {self.path} is in use by {holder}: wait for it to end, or stop it,"
                             " before resuming it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} ({' '.join(sys.argv)[:200]})\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            os.close(fd)


def version_key(version: int) -> str:
    """The key of a version among a run's candidates: 3 -> "003"."""
    return f"{version:03d}"


def version_label(candidate_or_version: dict | int) -> str:
    """How people read a version: "v003"."""
    version = candidate_or_version if isinstance(candidate_or_version, int) else candidate_or_version["version"]
    return f"v{version_key(version)}"


def write_json(path: Path, data) -> None:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.chmod(tmp, 0o644)  # mkstemp makes files private; run files are meant to be read
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_recorded(path: Path, text: str) -> str:
    """Write a file the validator will compare later (a reference output); return its sha256 for the record."""
    write_text(path, text)
    return sha256_hex(text)


def read_recorded(path: str | Path, sha256: str | None) -> str:
    """A file written by write_recorded, refused when it no longer matches its recorded hash."""
    text = Path(path).read_text()
    if sha256 is not None and sha256_hex(text) != sha256:
        raise LassiError(f"{path} changed after it was written, so it is not trusted: a program run without"
                         " filesystem isolation may have written it; run with {setting} bwrap to keep programs"
                         " away from the run directory", setting="sandbox")
    return text


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def append_jsonl(path: Path, record: dict) -> None:
    """Append one record as a line and make it durable before returning.

    Concurrent callers (the summarizer's threads) take turns; a line torn by an earlier crash is
    closed first, so it spoils only itself.
    """
    line = json.dumps(record, default=str) + "\n"
    with _APPEND_LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as f:
            if f.tell() and (f.seek(-1, os.SEEK_END), f.read(1))[1] != b"\n":
                f.write(b"\n")
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file, skipping any line a crash left half-written."""
    return read_jsonl_counting(path)[0]


def read_jsonl_counting(path: Path) -> tuple[list[dict], int]:
    """The records of a JSON-lines file and how many damaged lines were skipped, so a report can say so."""
    if not path.exists():
        return [], 0
    records, damaged = [], 0
    for line in path.read_text(errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            damaged += bool(line.strip())
    return records, damaged
