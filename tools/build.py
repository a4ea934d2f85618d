"""Build a program: one compiler line (nvcc for CUDA, g++ -fopenmp for C++) over its sources, or the user's own build."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools.errors import LassiError
from tools.sandbox import Sandbox
from tools.sandbox.runner import run_program

BINARY_NAME = "program"
BUILD_TIME_LIMIT_S = 600
# The paper built with -std=c++14; CUDA 13's own headers need C++17, so C++17 is the default here.
DEFAULT_FLAGS = {
    "cuda": ["-std=c++17", "-O3", "-Xcompiler", "-Wall"],
    "cpp": ["-std=c++17", "-O3", "-fopenmp", "-Wall"],
}


@dataclass
class BuildResult:
    ok: bool
    command: list[str]
    log: str
    seconds: float

    def first_error(self) -> str:
        """The first line of the log that names an error, for one-line messages."""
        lines = [line for line in self.log.splitlines() if line.strip()]
        for line in lines:
            if "error" in line.lower():
                return line.strip()
        return lines[0].strip() if lines else "no output from the compiler"


def compiler_for(language: str) -> str:
    """The compiler executable for a language, honouring NVCC and CXX from the environment."""
    name = os.environ.get("NVCC", "nvcc") if language == "cuda" else os.environ.get("CXX", "g++")
    if shutil.which(name) is None:
        what = "the CUDA toolkit's nvcc" if language == "cuda" else "a C++ compiler (g++)"
        raise LassiError(f"{name} not found on PATH: install {what} or set {'NVCC' if language == 'cuda' else 'CXX'}")
    return name


def build_command(language: str, sources: str | list[str], flags: str | None = None, arch: str | None = None,
                  extra_flags: str | None = None, include_dirs: tuple[str, ...] = (),
                  libraries: tuple[str, ...] = (), output: str = BINARY_NAME) -> list[str]:
    """The one-line compile: `flags` replaces the defaults, `extra_flags` adds to them, `arch` (e.g. sm_90)
    is added for CUDA unless the flags name one; include folders before the sources, libraries after."""
    chosen = _split(flags, "compile_flags") if flags is not None else list(DEFAULT_FLAGS[language])
    chosen += _split(extra_flags, "extra_flags")
    if language == "cuda" and arch and not any(f.startswith(("-arch", "--gpu-architecture")) for f in chosen):
        chosen.append(f"-arch={arch}")
    files = [sources] if isinstance(sources, str) else list(sources)
    links = [f"-l{name.removeprefix('-l')}" for name in libraries]
    return [compiler_for(language), *chosen, *(f"-I{d}" for d in include_dirs), *files, "-o", output, *links]


def shell_command(line: str) -> list[str]:
    """The user's own build (or configure) line, run by the shell so `&&` and variables work."""
    return ["/bin/sh", "-c", line]


def include_env(include_dirs: tuple[str, ...]) -> dict[str, str]:
    """For the user's own build: compilers (gcc, and nvcc through it) also search the folders in CPATH."""
    joined = os.pathsep.join([*include_dirs, os.environ.get("CPATH", "")]).strip(os.pathsep)
    return {"CPATH": joined} if include_dirs else {}


def _split(flags: str | None, setting: str) -> list[str]:
    try:
        return shlex.split(flags or "")
    except ValueError as exc:
        raise LassiError(f"{{setting}} could not be split like a shell line ({exc}): {flags}",
                         setting=setting) from None


def build(workspace: Path, command: list[str], sandbox: Sandbox | None = None, binary: str | None = BINARY_NAME,
          env: dict[str, str] | None = None) -> BuildResult:
    """Run the build inside the workspace, contained like a run, and capture its log; it must leave `binary`
    (None: a configure step, which leaves no program)."""
    done = run_program(command, workspace, BUILD_TIME_LIMIT_S, env=env, sandbox=sandbox)
    ok = done.ok and (binary is None or (workspace / binary).is_file())
    log = done.stdout + done.stderr
    if done.timed_out or done.stopped:
        log += f"\nthe build {done.failure(BUILD_TIME_LIMIT_S)}\n"
    elif done.ok and not ok:
        log += f"\nthe build ended without error but left no {binary}\n"
    return BuildResult(ok=ok, command=command, log=log, seconds=round(done.seconds, 3))


def compiler_version(language: str) -> str:
    try:
        out = subprocess.run([compiler_for(language), "--version"], capture_output=True, text=True, timeout=30)
    except (LassiError, OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    return lines[-1] if language == "cuda" and lines else (lines[0] if lines else "unknown")
