"""Shared fixtures: a copy of the test program, scripted sessions written on the fly, fast settings.

What tests import (the test program's variants, answers, judging benches) is in tests/helpers/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from graph.context import make_context
from tests.helpers import FIXTURES
from tests.helpers.programs import SUMMARIES, nvidia_gpu_present


@pytest.fixture
def program(tmp_path: Path) -> Path:
    target = tmp_path / "sleeper"
    shutil.copytree(FIXTURES / "sleeper", target)
    return target


@pytest.fixture
def session(tmp_path: Path):
    """Write a scripted session from {role: [answers]} and return its `scripted:` model name."""

    def write(responses: dict[str, list]) -> str:
        path = tmp_path / "session.json"
        path.write_text(json.dumps({"about": "test session", "responses": {**SUMMARIES, **responses}}))
        return f"scripted:{path}"

    return write


@pytest.fixture
def settings(tmp_path: Path):
    """Fast settings for test runs: short timeouts, quick retries, and a summary cache of the test's own."""

    def make(model: str, **overrides) -> dict:
        return {"model": model, "runs_root": str(tmp_path / "runs"), "llm_backoff_s": 0.0, "max_repeats": 6,
                "confirm_pairs": 3, "cache_dir": str(tmp_path / "cache"), **overrides}

    return make


@pytest.fixture(autouse=True)
def private_cache_home(tmp_path_factory, monkeypatch):
    """No test reads or fills the user's cache, nor another test's: the default cache lives in a fresh folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def context():
    return make_context


def pytest_collection_modifyitems(config, items):
    """`gpu` tests need an NVIDIA GPU with NVML; elsewhere they are skipped, saying why."""
    if any("gpu" in item.keywords for item in items) and not nvidia_gpu_present():
        skip = pytest.mark.skip(reason="needs an NVIDIA GPU (NVML found none)")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
