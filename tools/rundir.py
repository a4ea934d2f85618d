"""The run directory: where every file of a run lives, written before any state points at it."""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path

from tools.errors import LassiError

DEFAULT_ROOT = "lassi-runs"
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
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records
