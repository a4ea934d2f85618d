"""Build a program's main source with nvcc (CUDA) or g++ -fopenmp (C++)."""

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


def build_command(language: str, main: str, flags: str | None = None, arch: str | None = None) -> list[str]:
    """The full compile command; `flags` replaces the defaults, `arch` (e.g. sm_90) is added for CUDA."""
    try:
        chosen = shlex.split(flags) if flags is not None else list(DEFAULT_FLAGS[language])
    except ValueError as exc:
        raise LassiError(f"{{setting}} could not be split like a shell line ({exc}): {flags}",
                         setting="compile_flags") from None
    if language == "cuda" and arch and not any(f.startswith(("-arch", "--gpu-architecture")) for f in chosen):
        chosen.append(f"-arch={arch}")
    return [compiler_for(language), *chosen, main, "-o", BINARY_NAME]


def build(workspace: Path, command: list[str], sandbox: Sandbox | None = None) -> BuildResult:
    """Run the compile command inside the workspace, contained like a run, and capture its log."""
    done = run_program(command, workspace, BUILD_TIME_LIMIT_S, sandbox=sandbox)
    ok = done.ok and (workspace / BINARY_NAME).exists()
    log = done.stdout + done.stderr
    if done.timed_out or done.stopped:
        log += f"\nthe compiler {done.failure(BUILD_TIME_LIMIT_S)}\n"
    return BuildResult(ok=ok, command=command, log=log, seconds=round(done.seconds, 3))


def compiler_version(language: str) -> str:
    try:
        out = subprocess.run([compiler_for(language), "--version"], capture_output=True, text=True, timeout=30)
    except (LassiError, OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    return lines[-1] if language == "cuda" and lines else (lines[0] if lines else "unknown")
