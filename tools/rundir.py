"""The run directory: where every file of a run lives, written before any state points at it."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

DEFAULT_ROOT = "lassi-runs"


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
        run.path.mkdir(parents=True, exist_ok=True)
        run.candidates.mkdir(exist_ok=True)
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
    def best(self) -> Path:
        return self.path / "best"

    @property
    def candidates(self) -> Path:
        return self.path / "candidates"

    @property
    def context(self) -> Path:
        return self.path / "context"

    def candidate(self, version: int, origin: str) -> Path:
        return self.candidates / f"v{version:03d}-{origin}"


def write_json(path: Path, data) -> None:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_jsonl(path: Path, record: dict) -> None:
    """Append one record as a line and make it durable before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
