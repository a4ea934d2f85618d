"""The run record: run.json, what a run was started with, and the checkpoint thread it lives on."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from graph.context import ROLES, Context
from tools.build import compiler_version
from tools.errors import LassiError
from tools.llm.names import parse_model
from tools.program import Program

THREAD_ID = "lassi-ee"  # one run per run directory, so one thread per checkpoint file


def run_record(prog: Program, args: list[str], context: Context) -> dict:
    """The content of run.json: what was run, with which settings, and the versions of the tools."""
    return {"program": str(prog.folder), "main": prog.main, "language": prog.language, "args": list(args),
            "context": context.to_dict(), "servers": servers(context), "thread_id": THREAD_ID, "include_dirs": include_dirs(prog, context),
            "libraries": list(context.libraries),
            "versions": {"python": platform.python_version(), "lassi-ee": _package("lassi-ee"),
                         "langgraph": _package("langgraph"), "langchain-core": _package("langchain-core"),
                         "nvidia-ml-py": _package("nvidia-ml-py"), "compiler": compiler_version(prog.language)}}


def servers(context: Context) -> dict[str, dict]:
    """Each role's provider, model and the base URL its calls go to (None for a scripted model)."""
    found = {}
    for role in ROLES:
        spec = parse_model(context.model_for(role), context.base_url_for(role))
        found[role] = {"provider": spec.provider, "model": spec.model, "base_url": spec.base_url}
    return found


def endpoints(context: Context) -> dict[str, str | None]:
    """The base URL of each role's server, resolved now (a recorded one, the settings, the environment),
    to be kept in the run's context so that a resume in another shell reaches the same servers."""
    return {role: spec["base_url"] for role, spec in servers(context).items()}


def include_dirs(prog: Program, context: Context) -> list[str]:
    """The include folders as absolute paths (a relative one is taken from the program folder, as a Makefile's
    -I../x is); each must exist, since builds see it through the sandbox."""
    found = []
    for given in context.include_dirs:
        path = (prog.folder / Path(given).expanduser()).resolve()
        if not path.is_dir():
            raise LassiError(f"{{setting}} {given} is not a folder (looked for {path})", setting="include_dirs")
        found.append(str(path))
    return found


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"
