"""Answers worth keeping between runs (the Stage-2 summaries), stored on disk by a key of their inputs.

A summary depends only on what was asked (the rendered prompts, which hold the knowledge, the machine
description or the source), which model was asked and which prompt template version asked it; the
same inputs on the same machine give a key the next run finds, so it pays for none of them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tools.rundir import write_json

FORMAT = 1  # bump when the stored record changes shape


def default_cache_dir() -> str:
    """$XDG_CACHE_HOME/lassi-ee, or ~/.cache/lassi-ee where XDG_CACHE_HOME is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "lassi-ee")


def cache_key(**parts: object) -> str:
    """A sha256 over the named parts, in a canonical order, so the same inputs give the same key."""
    blob = json.dumps({"format": FORMAT, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ReplyCache:
    """A folder of JSON records, one per key. Safe for concurrent writers: each write is atomic."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder).expanduser()

    def path(self, key: str) -> Path:
        return self.folder / "replies" / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored record, or None when there is none (or it cannot be read: a miss, not an error)."""
        try:
            record = json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and "text" in record else None

    def put(self, key: str, record: dict) -> str | None:
        """Store a record; None when stored, else why not (an unwritable cache costs the next run a call)."""
        try:
            write_json(self.path(key), record)
        except OSError as exc:
            return f"not stored in {self.folder}: {exc.strerror or exc}"
        return None
