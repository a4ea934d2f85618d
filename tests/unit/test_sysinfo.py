"""The machine description: labelled parts, nothing that drifts between runs, and no GPU handled plainly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tools.sysinfo as sysinfo
from tools.build import BINARY_NAME, build, build_command
from tools.errors import LassiError
from tools.gpu import find_gpu
from tools.sandbox.runner import run_program

SMI_SAMPLE = """
==============NVSMI LOG==============

Timestamp                                 : Tue Nov 24 05:00:00 2026
Driver Version                            : 580.159.04
CUDA Version                              : 13.0

Attached GPUs                             : 1
GPU 00000000:18:00.0
    Product Name                          : NVIDIA H200
    Product Architecture                  : Hopper
    Persistence Mode                      : Enabled
    Performance State                     : P0
    PCI
        GPU Link Info
            PCIe Generation
                Max                       : 5
                Current                   : 5
        Tx Throughput                     : 1200 KB/s
    Clocks Event Reasons
        Idle                              : Active
        SW Power Cap                      : Not Active
    FB Memory Usage
        Total                             : 143771 MiB
        Reserved                          : 551 MiB
        Used                              : 1 MiB
        Free                              : 143219 MiB
    Utilization
        Gpu                               : 0 %
    Temperature
        GPU Current Temp                  : 31 C
        GPU Slowdown Temp                 : 87 C
    GPU Power Readings
        Average Power Draw                : 77.12 W
        Instantaneous Power Draw          : 76.80 W
        Current Power Limit               : 700.00 W
        Max Power Limit                   : 700.00 W
    Clocks
        Graphics                          : 345 MHz
        SM                                : 345 MHz
    Max Clocks
        Graphics                          : 1980 MHz
        SM                                : 1980 MHz
        Memory                            : 3201 MHz
    Voltage
        Graphics                          : 670.000 mV
    Processes                             : None
"""


def test_nvidia_smi_keeps_what_describes_the_gpu_and_drops_its_readings():
    text = sysinfo.stable_smi(SMI_SAMPLE)
    for kept in ("Driver Version", "NVIDIA H200", "Hopper", "Max                       : 5", "Total", "143771 MiB",
                 "GPU Slowdown Temp", "Current Power Limit               : 700.00 W", "Max Clocks",
                 "SM                                : 1980 MHz", "Persistence Mode"):
        assert kept in text, kept
    for dropped in ("Timestamp", "P0", "Current                   : 5", "Tx Throughput", "Idle", "Used", "Free",
                    "Gpu ", "31 C", "77.12", "76.80", "345 MHz", "670.000", "Processes"):
        assert dropped not in text, dropped


def test_without_a_gpu_the_description_says_so_and_describes_the_rest(monkeypatch):
    def no_gpu(selector=None):
        raise LassiError("no NVIDIA GPU available (NVML: NVML Shared Library Not Found)")

    monkeypatch.setattr(sysinfo, "find_gpu", no_gpu)
    text = sysinfo.describe_machine("cuda")
    assert "## GPU\n(none: no NVIDIA GPU available" in text
    assert all(f"## {part}" in text for part in ("Operating system", "CUDA compiler", "CPU (lscpu)",
                                                 "Memory (/proc/meminfo)", "C++ compiler"))


def test_a_cpu_program_gets_no_gpu_part_and_the_description_does_not_drift():
    first = sysinfo.describe_machine("cpp")
    assert "## GPU" not in first and "MemTotal" in first and "MemAvailable" not in first
    assert not re.search(r"^CPU( MHz|\(s\) scaling MHz)", first, re.M)
    assert sysinfo.describe_machine("cpp") == first


SPIN = r"""
#include <cstdio>
__global__ void spin(long long cycles) { long long t = clock64(); while (clock64() - t < cycles) {} }
int main() { spin<<<2048, 256>>>(1500000000LL); cudaDeviceSynchronize(); std::printf("done\n"); return 0; }
"""


@pytest.mark.gpu
def test_on_the_gpu_the_description_names_it_its_architecture_power_limit_and_clocks(tmp_path: Path):
    gpu = find_gpu()
    before = sysinfo.describe_machine("cuda")
    facts = sysinfo.gpu_facts(gpu.uuid)
    print(before)  # for the issue: what the summarizer is given on this machine
    assert facts["Name"] == gpu.name and f"({gpu.arch})" in facts["Architecture"]
    assert re.fullmatch(r"\d+ W", facts["Power limit (enforced)"])
    assert re.fullmatch(r"SM \d+ MHz, graphics \d+ MHz, memory \d+ MHz", facts["Maximum clocks"])
    assert re.fullmatch(r"\d+\.\d+", facts["CUDA version supported by the driver"]) and facts["Driver version"]
    if "H200" in gpu.name:
        assert "Hopper, compute capability 9.0 (sm_90)" in before and "NVIDIA H200" in before
    # A busy GPU (clocked up, drawing power) gives the same description: the summary cache can hold.
    (tmp_path / "main.cu").write_text(SPIN)
    assert build(tmp_path, build_command("cuda", "main.cu", arch=gpu.arch)).ok
    assert run_program([str(tmp_path / BINARY_NAME)], tmp_path, 120).ok
    assert sysinfo.describe_machine("cuda") == before
