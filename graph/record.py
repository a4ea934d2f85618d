"""The run record: run.json, what a run was started with, and the checkpoint thread it lives on."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from graph.context import Context
from tools.build import compiler_version
from tools.program import Program

THREAD_ID = "lassi-ee"  # one run per run directory, so one thread per checkpoint file


def run_record(prog: Program, args: list[str], context: Context) -> dict:
    """The content of run.json: what was run, with which settings, and the versions of the tools."""
    return {"program": str(prog.folder), "main": prog.main, "language": prog.language, "args": list(args),
            "context": context.to_dict(), "thread_id": THREAD_ID,
            "versions": {"python": platform.python_version(), "lassi-ee": _package("lassi-ee"),
                         "langgraph": _package("langgraph"), "langchain-core": _package("langchain-core"),
                         "nvidia-ml-py": _package("nvidia-ml-py"), "compiler": compiler_version(prog.language)}}


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"
