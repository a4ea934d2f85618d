"""The CLI as a user runs it, in a subprocess, and the shape every error must have: one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def lassi(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def one_clear_line(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lassi-ee: error: "), result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
