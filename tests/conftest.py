"""Shared fixtures: a tiny C++ program and scripted sessions written on the fly.

The test program sleeps WAIT_MS milliseconds, so "better" and "not better" are decided by
deterministic waits rather than by noisy computation on a shared CI machine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from graph.context import make_context

FIXTURES = Path(__file__).parent / "fixtures"
SLEEPER_MAIN = (FIXTURES / "sleeper" / "main.cpp").read_text()
VALID = "Output and work match the original.\nVERDICT: VALID"
INVALID = "The refactoring prints a different result.\nVERDICT: INVALID"


def sleeper(wait_ms: int = 200, fault: str | None = None) -> str:
    """A variant of the test program: another wait, or one planted fault.

    fault: build (does not compile), crash (aborts), output (prints a wrong sum), hang (never ends).
    """
    code = SLEEPER_MAIN.replace("#define WAIT_MS 200", f"#define WAIT_MS {wait_ms}")
    if fault == "build":
        code = code.replace("long s = sum_to(n);", "long s = sum_to(n)")
    elif fault == "crash":
        code = code.replace("long s = sum_to(n);", "long s = sum_to(n); std::abort();")
    elif fault == "output":
        code = code.replace("long s = sum_to(n);", "long s = sum_to(n) + 1;")
    elif fault == "hang":
        code = code.replace("long s = sum_to(n);", "for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));\n    long s = 0;")
    return code


def answer(code: str, text: str = "Here is the new version.") -> str:
    return f"{text}\n\n```cpp\n{code}```\n"


SUMMARIES = {"summarizer/knowledge": ["knowledge summary"], "summarizer/system": ["machine summary"],
             "summarizer/code": ["code summary"]}


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
        return {"model": model, "runs_root": str(tmp_path / "runs"), "llm_backoff_s": 0.0, "max_repeats": 3,
                "cache_dir": str(tmp_path / "cache"), **overrides}

    return make


@pytest.fixture(autouse=True)
def private_cache_home(tmp_path_factory, monkeypatch):
    """No test reads or fills the user's cache, nor another test's: the default cache lives in a fresh folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def context():
    return make_context


def nvidia_gpu_present() -> bool:
    from tools.errors import LassiError
    from tools.gpu import find_gpu

    try:
        find_gpu()
        return True
    except LassiError:
        return False


def pytest_collection_modifyitems(config, items):
    """`gpu` tests need an NVIDIA GPU with NVML; elsewhere they are skipped, saying why."""
    if any("gpu" in item.keywords for item in items) and not nvidia_gpu_present():
        skip = pytest.mark.skip(reason="needs an NVIDIA GPU (NVML found none)")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
