"""Describe the machine for the summarizer: GPU, CPU, memory and compilers, each part labelled.

Only what stays the same from one run to the next goes in: the GPU's identity, limits and maximum
clocks, not its current temperature, power draw or clocks (those are recorded with every
measurement instead). A description that does not drift lets the machine's summary be cached and
reused by the next run on the same machine. Without a GPU, or without a tool, the part says so.

    python -m tools.sysinfo [cuda|cpp] [GPU]    prints the description
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys

from tools.errors import LassiError
from tools.gpu import find_gpu, nvml

SECTION_LIMIT = 12000  # characters kept per section

# nvidia-smi -q readings that change from moment to moment: whole blocks, then single keys.
VOLATILE_BLOCKS = ("Clocks Event Reasons", "Clocks Throttle Reasons", "Clocks Event Reasons Counters", "Utilization",
                   "Encoder Stats", "FBC Stats", "Clocks", "Voltage", "Processes", "ECC Errors", "Power Samples",
                   "Retired Pages", "Remapped Rows", "Accounted Processes")
VOLATILE_KEYS = ("Timestamp", "Fan Speed", "Performance State", "Used", "Free", "Reserved", "Current",
                 "Tx Throughput", "Rx Throughput", "Replays Since Reset", "Replay Number Rollovers",
                 "GPU Current Temp", "Memory Current Temp", "GPU T.Limit Temp", "Power Draw", "Average Power Draw",
                 "Instantaneous Power Draw", "Current Power Draw")
VOLATILE_CPU = re.compile(r"^(CPU MHz|CPU\(s\) scaling MHz|Vulnerability )")


def describe_machine(language: str, gpu_selector: str | None = None) -> str:
    """The labelled description: operating system, GPU (CUDA programs), CPU, memory, compilers."""
    sections = [("Operating system", f"{platform.system()} {platform.release()} ({platform.machine()})")]
    if language == "cuda":
        sections += gpu_sections(gpu_selector)
        sections.append(("CUDA compiler (nvcc --version)", _run(["nvcc", "--version"])))
    sections.append(("CPU (lscpu)", "\n".join(line for line in _run(["lscpu"]).splitlines()
                                               if not VOLATILE_CPU.match(line))))
    sections.append(("Memory (/proc/meminfo)", _meminfo()))
    sections.append(("C++ compiler (g++ --version)", _run(["g++", "--version"])))
    return "\n\n".join(f"## {title}\n{body.strip()[:SECTION_LIMIT]}" for title, body in sections)


def gpu_sections(selector: str | None = None) -> list[tuple[str, str]]:
    """The GPU's facts from NVML, then `nvidia-smi -q` for it without its moment-to-moment readings."""
    try:
        gpu = find_gpu(selector)
    except LassiError as exc:
        return [("GPU", f"(none: {exc})")]
    facts = gpu_facts(gpu.uuid)
    summary = "\n".join(f"{label}: {value}" for label, value in facts.items())
    smi = _run(["nvidia-smi", "-q", "-i", gpu.uuid])
    return [("GPU (NVML)", summary), ("GPU (nvidia-smi -q, current readings left out)", stable_smi(smi))]


def gpu_facts(uuid: str) -> dict[str, str]:
    """Labelled facts of one GPU; a fact NVML cannot give on this GPU is left out."""
    lib = nvml()
    handle = lib.nvmlDeviceGetHandleByUUID(uuid)
    archs = {getattr(lib, n): n.removeprefix("NVML_DEVICE_ARCH_").title() for n in dir(lib)
             if n.startswith("NVML_DEVICE_ARCH_") and n != "NVML_DEVICE_ARCH_UNKNOWN"}
    major, minor = lib.nvmlDeviceGetCudaComputeCapability(handle)
    clock = {"SM": lib.NVML_CLOCK_SM, "graphics": lib.NVML_CLOCK_GRAPHICS, "memory": lib.NVML_CLOCK_MEM}
    queries = {
        "Name": lambda: _text(lib.nvmlDeviceGetName(handle)),
        "UUID": lambda: uuid,
        "Architecture": lambda: f"{archs.get(lib.nvmlDeviceGetArchitecture(handle), 'unknown')}, compute capability"
                                f" {major}.{minor} (sm_{major}{minor})",
        "CUDA cores": lambda: str(lib.nvmlDeviceGetNumGpuCores(handle)),
        "Memory": lambda: f"{lib.nvmlDeviceGetMemoryInfo(handle).total / 2**30:.1f} GiB",
        "Memory bus width": lambda: f"{lib.nvmlDeviceGetMemoryBusWidth(handle)} bits",
        "Maximum clocks": lambda: ", ".join(f"{name} {lib.nvmlDeviceGetMaxClockInfo(handle, c)} MHz"
                                            for name, c in clock.items()),
        "Default application clocks": lambda: ", ".join(
            f"{name} {lib.nvmlDeviceGetDefaultApplicationsClock(handle, c)} MHz" for name, c in clock.items()
            if name != "SM"),
        "Power limit (enforced)": lambda: f"{lib.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000:.0f} W",
        "Power limit (default)": lambda: f"{lib.nvmlDeviceGetPowerManagementDefaultLimit(handle) / 1000:.0f} W",
        "Power limit range": lambda: "{:.0f}–{:.0f} W".format(
            *(v / 1000 for v in lib.nvmlDeviceGetPowerManagementLimitConstraints(handle))),
        "Slowdown temperature": lambda: f"{lib.nvmlDeviceGetTemperatureThreshold(handle, lib.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)} C",
        "PCIe (maximum)": lambda: f"gen {lib.nvmlDeviceGetMaxPcieLinkGeneration(handle)}"
                                  f" x{lib.nvmlDeviceGetMaxPcieLinkWidth(handle)}",
        "Persistence mode": lambda: "on" if lib.nvmlDeviceGetPersistenceMode(handle) else "off",
        "Driver version": lambda: _text(lib.nvmlSystemGetDriverVersion()),
        "CUDA version supported by the driver": lambda: _cuda_version(lib.nvmlSystemGetCudaDriverVersion()),
        "NVML version": lambda: _text(lib.nvmlSystemGetNVMLVersion()),
    }
    facts = {}
    for label, query in queries.items():
        try:
            facts[label] = query()
        except lib.NVMLError:
            continue  # not supported on this GPU or driver
    return facts


def stable_smi(text: str) -> str:
    """`nvidia-smi -q` output without the readings that change between two calls."""
    kept, skip_below = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if skip_below is not None:
            if indent > skip_below:
                continue
            skip_below = None
        key = line.split(":", 1)[0].strip()
        if key in VOLATILE_BLOCKS:  # a block header, or `Processes : None` standing for an empty block
            skip_below = indent
            continue
        if ":" in line and key in VOLATILE_KEYS:
            continue
        kept.append(line.rstrip())
    return "\n".join(kept)


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
            return "".join(line for line in f if line.startswith(("MemTotal", "SwapTotal", "Hugepagesize")))
    except OSError:
        return "(not available)"


def _cuda_version(number: int) -> str:
    """NVML's 13000 is CUDA 13.0, 12080 is 12.8."""
    return f"{number // 1000}.{number % 1000 // 10}"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


if __name__ == "__main__":
    print(describe_machine(*(sys.argv[1:3] or ["cuda"])))
