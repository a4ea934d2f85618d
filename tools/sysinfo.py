"""Describe the machine for the summarizer: GPU, CPU, memory and compilers, each part labelled."""

from __future__ import annotations

import platform
import shutil
import subprocess

SECTION_LIMIT = 12000  # characters kept per section; nvidia-smi -q alone can be long


def describe_machine(language: str, gpu_uuid: str | None = None) -> str:
    sections = [("Operating system", f"{platform.system()} {platform.release()} ({platform.machine()})")]
    if language == "cuda":
        target = ["-i", gpu_uuid] if gpu_uuid else []
        sections.append(("GPU (nvidia-smi -q)", _run(["nvidia-smi", "-q", *target])))
        sections.append(("CUDA compiler (nvcc --version)", _run(["nvcc", "--version"])))
    sections.append(("CPU (lscpu)", _run(["lscpu"])))
    sections.append(("Memory (/proc/meminfo)", _meminfo()))
    sections.append(("C++ compiler (g++ --version)", _run(["g++", "--version"])))
    return "\n\n".join(f"## {title}\n{body.strip()[:SECTION_LIMIT]}" for title, body in sections)


def _run(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return f"({argv[0]} not found)"
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({' '.join(argv)} failed: {exc})"
    return out.stdout or out.stderr


def _meminfo() -> str:
    try:
        with open("/proc/meminfo") as f:
            return "".join(line for line in f if line.startswith(("MemTotal", "MemAvailable", "SwapTotal")))
    except OSError:
        return "(not available)"
