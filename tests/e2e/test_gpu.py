"""On an NVIDIA GPU: the NVML meter, GPU isolation, profiling each CUDA example, a scripted optimize."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.api import optimize, profile
from nodes.comparator import assess
from tests.helpers import ROOT
from tests.helpers.figures import interval
from tools.build import BINARY_NAME, build, build_command
from tools.energy import RepeatPolicy, choose_meter, measure
from tools.energy.decision import Rule, compare
from tools.gpu import find_gpu
from tools.program import load_program, stage_workspace
from tools.sandbox.runner import run_program

pytestmark = pytest.mark.gpu
EXAMPLES = ROOT / "examples"
CUDA_EXAMPLES = sorted(p.parent.name for p in (EXAMPLES / "programs").glob("*/main.cu"))
RULE = Rule(min_pairs=3, max_pairs=6)  # the decision rule with a small repeat budget

COUNT_DEVICES = r"""
#include <cstdio>
#include <cuda_runtime.h>
int main() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) return 1;
    cudaDeviceProp p;
    cudaGetDeviceProperties(&p, 0);
    std::printf("%d GPU-", n);
    const unsigned char* u = reinterpret_cast<const unsigned char*>(&p.uuid);
    for (int i = 0; i < 16; ++i) std::printf(i == 4 || i == 6 || i == 8 || i == 10 ? "-%02x" : "%02x", u[i]);
    std::printf("\n");
    return 0;
}
"""


def built(tmp_path: Path, code: str) -> Path:
    folder = tmp_path / "prog"
    folder.mkdir()
    (folder / "main.cu").write_text(code)
    result = build(folder, build_command("cuda", "main.cu", arch=find_gpu().arch))
    assert result.ok, result.log
    return folder


def test_the_child_sees_only_the_measured_gpu(tmp_path):
    folder = built(tmp_path, COUNT_DEVICES)
    meter = choose_meter("cuda", None)
    result = run_program([str(folder / BINARY_NAME)], folder, 60, env=meter.child_env())
    count, uuid = result.stdout.split()
    assert count == "1" and uuid == meter.gpu.uuid


def test_the_nvml_meter_reads_counter_energy_settled_idle_and_a_power_profile(tmp_path):
    prog = load_program(EXAMPLES / "programs" / CUDA_EXAMPLES[0])
    work = tmp_path / "w"
    stage_workspace(prog, work, {prog.main: prog.read_main()})
    assert build(work, build_command("cuda", prog.main, arch=find_gpu().arch)).ok
    meter = choose_meter("cuda", None)
    result, measurement = measure(meter, lambda: run_program([str(work / BINARY_NAME)], work, 300,
                                                             env=meter.child_env()), RepeatPolicy(2, 2))
    assert result.ok and measurement is not None
    reading = measurement.readings[0]
    assert 0.01 <= meter.period <= 0.5
    assert 20 < reading.idle_power_w < 200
    assert reading.gross_energy_j > reading.net_energy_j > 0
    assert reading.net_energy_j == pytest.approx(reading.gross_energy_j - reading.idle_power_w * reading.window_s,
                                                 abs=0.01)
    assert reading.window_s >= reading.duration_s
    assert len(reading.samples) >= reading.duration_s / meter.period * 0.8
    assert reading.eq1_energy_j > 0 and reading.profile_energy_j > 0
    assert measurement.device["idle_baselines"] and measurement.stop_reason
    assert {"sm_clock_mhz", "temperature_c", "power_limit_w"} <= reading.device_state["after"].keys()


def test_work_the_meter_did_not_see_does_not_become_its_idle_baseline(tmp_path):
    prog = load_program(EXAMPLES / "programs" / "transfer-loop")
    work = tmp_path / "w"
    stage_workspace(prog, work, {prog.main: prog.read_main()})
    assert build(work, build_command("cuda", prog.main, arch=find_gpu().arch)).ok
    meter = choose_meter("cuda", None)

    def run():
        return run_program([str(work / BINARY_NAME), "2048", "2048", "100"], work, 300, env=meter.child_env())

    _, first = measure(meter, run, RepeatPolicy(1, 1))
    time.sleep(4)  # the meter's own run is long over: its next session checks the baseline for drift
    assert run().ok  # a run the meter does not see, leaving the GPU clocked up for a while
    _, second = measure(meter, run, RepeatPolicy(1, 1))
    assert second.readings[0].idle_power_w == pytest.approx(first.readings[0].idle_power_w, abs=5)


@pytest.mark.parametrize("name", CUDA_EXAMPLES)
def test_profile_measures_each_cuda_example(name, tmp_path):
    result = profile(EXAMPLES / "programs" / name, runs_root=str(tmp_path), min_repeats=3, max_repeats=3)
    measurement = result.source["measurement"]
    stats = measurement["stats"]
    assert stats["net_energy_j"]["mean"] > 0 and stats["avg_power_w"]["mean"] > 0 and stats["net_energy_j"]["ci95"] > 0
    assert measurement["repeats"] == 3
    assert "PASS" in (result.run_dir / result.source["dir"] / "stdout.txt").read_text()
    assert (result.run_dir / result.source["dir"] / "power.csv").exists()
    assert (result.run_dir / measurement["plot_path"]).read_bytes()[:4] == b"\x89PNG"


def test_a_scripted_optimize_on_a_cuda_example_finds_a_measured_saving(tmp_path):
    name = "transfer-loop"
    session = EXAMPLES / "sessions" / name / "session.json"
    result = optimize(EXAMPLES / "programs" / name, model=f"scripted:{session}", runs_root=str(tmp_path),
                      max_repeats=3, confirm_pairs=3)
    assert result.finished and result.best["key"] != "000"
    saved = 1 - (result.best["measurement"]["stats"]["net_energy_j"]["mean"]
                 / result.source["measurement"]["stats"]["net_energy_j"]["mean"])
    assert saved > 0.05
    report = result.report_path.read_text()
    assert "| kernel launches | 400 |" in report and "`gaussian_blur` launches / GPU time" in report
    assert "  - workload: " in report


def example_runner(tmp_path: Path, name: str, code: str, args: list[str], version: int):
    """A built copy of an example with `code` as its main source, and a contained run of it on `args`."""
    prog = load_program(EXAMPLES / "programs" / name)
    work = tmp_path / f"v{version}"
    stage_workspace(prog, work, {prog.main: code})
    assert build(work, build_command("cuda", prog.main, arch=find_gpu().arch)).ok
    meter = choose_meter("cuda", None)
    return lambda: run_program([str(work / BINARY_NAME), *args], work, 300, env=meter.child_env())


def judged_against(candidate, incumbent) -> tuple[str, str, int | None]:
    """The comparator's verdict on a candidate measured alternately with the incumbent, as the executor does."""
    summary = compare(choose_meter("cuda", None), candidate, incumbent, RULE).summary()
    print(f"screening {interval(summary['screening'])}; confirmation {interval(summary['confirmation'])}")
    record = {"status": "judged", "validation": {"valid": True}, "measurement": {"comparison": summary}}
    return assess(record, RULE, 1)


def test_two_builds_of_the_same_source_are_not_declared_different(tmp_path):
    code = load_program(EXAMPLES / "programs" / "sync-storm").read_main()
    args = ["1024", "40000"]
    first, second = example_runner(tmp_path, "sync-storm", code, args, 0), example_runner(tmp_path, "sync-storm", code, args, 1)
    assert judged_against(second, first)[0] == "not_better"
    assert judged_against(first, second)[0] == "not_better"


def test_hoisting_the_redundant_transfer_is_declared_better_with_its_interval(tmp_path):
    args = ["4096", "4096", "100"]
    source = example_runner(tmp_path, "transfer-loop", load_program(EXAMPLES / "programs" / "transfer-loop").read_main(), args, 0)
    hoisted = (EXAMPLES / "sessions" / "transfer-loop" / "steps" / "01-hoist-input.cu").read_text()
    outcome, reason, _ = judged_against(example_runner(tmp_path, "transfer-loop", hoisted, args, 1), source)
    assert outcome == "better" and "confirmation" in reason
