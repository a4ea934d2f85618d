"""Workload evidence: reading the CUPTI counter's report, comparing source and candidate, building the counter."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tools.errors import LassiError
from tools.workload import (
    Workload,
    compare_workloads,
    count_workload,
    counter_library,
    describe_workload,
    parse_counts,
    short_kernel_name,
    workload_table,
)

REPORT = """process\t101
kernel\t400\t16777216000\t2000000000\tgaussian_blur(float const*, float*, int, int, float)
copy\t400\t26843545600\t9000000000\thost-to-device\tpageable
copy\t400\t26843545600\t8000000000\tdevice-to-host\tpageable
memset\t1\t4096\t1000
dropped\t0
end
"""


def work(launches: int = 400, threads: int = 41943040, h2d: int = 400) -> Workload:
    return parse_counts(f"process\t1\nkernel\t{launches}\t{threads * launches}\t{launches * 5000}\tvoid blur<16>(float const*, int)\n"
                        f"copy\t{h2d}\t{h2d * 67108864}\t{h2d * 20000}\thost-to-device\tpageable\nend\n")


def test_the_counter_report_is_read_per_kernel_and_direction():
    counted = parse_counts(REPORT)
    assert counted.processes == 1 and counted.launches == 400
    assert counted.kernels == {"gaussian_blur": {"launches": 400, "threads": 16777216000, "gpu_ns": 2000000000}}
    assert counted.copies["host-to-device"] == {"count": 400, "bytes": 26843545600, "gpu_ns": 9000000000,
                                                "host_memory": {"pageable": 400}}
    assert counted.memsets == {"count": 1, "bytes": 4096, "gpu_ns": 1000}
    assert Workload.from_dict(counted.to_dict()) == counted


def test_reports_of_several_processes_add_up():
    twice = parse_counts(REPORT + REPORT.replace("101", "102"))
    assert twice.processes == 2 and twice.launches == 800
    assert twice.copies["device-to-host"]["count"] == 800


def test_kernel_names_lose_return_type_and_parameters_but_keep_template_arguments():
    assert short_kernel_name("void blur<16>(float const*, int)") == "blur<16>"
    assert short_kernel_name("void ns::step<(anonymous namespace)::Tag>(float*)") == \
        "ns::step<(anonymous namespace)::Tag>"
    assert short_kernel_name("copy_field") == "copy_field"


def test_fewer_kernel_launches_are_flagged():
    check = compare_workloads(work(400), work(1))
    assert check.flagged and "kernel launches fell from 400 to 1" in check.reason


def test_fewer_threads_launched_are_flagged_even_with_as_many_launches():
    check = compare_workloads(work(threads=41943040), work(threads=41943040 // 4))
    assert check.flagged and "threads launched fell" in check.reason


def test_a_kernel_of_the_source_that_never_runs_is_named():
    source = parse_counts("process\t1\nkernel\t3\t30\t9\tstep(float*)\nkernel\t3\t30\t9\treset(float*)\nend\n")
    candidate = parse_counts("process\t1\nkernel\t3\t30\t9\tstep(float*)\nend\n")
    check = compare_workloads(source, candidate)
    assert check.flagged and "never launched: reset" in check.reason


def test_fewer_copies_with_the_same_kernels_are_noted_not_flagged():
    check = compare_workloads(work(h2d=400), work(h2d=1))
    assert not check.flagged
    assert "no drop" in check.reason and "host-to-device copies moved 64 MiB instead of 25 GiB" in check.reason


def test_the_same_work_in_a_different_launch_shape_is_not_a_drop():
    assert not compare_workloads(work(threads=41943040), work(threads=41943040 + 4096)).flagged


def test_the_table_has_a_column_per_program_and_a_row_per_kernel_and_direction():
    table = workload_table({"source": work(400), "best": work(400, h2d=1)})
    assert table.splitlines()[0] == "| | source | best |"
    assert "| kernel launches | 400 | 400 |" in table
    assert "| host-to-device copies / bytes | 400 / 25 GiB, 400 pageable | 1 / 64 MiB, 1 pageable |" in table
    assert "`blur<16>` launches / GPU time" in table


def test_the_description_for_the_planner_gives_each_kernel_and_direction_its_share_of_gpu_time():
    text = describe_workload(work(400))
    assert "kernel blur<16>: 400 launches, 41,943,040 threads per launch" in text
    assert "(20% of GPU busy time)" in text and "host-to-device copies: 400 moving 25 GiB" in text
    assert "(80% of GPU busy time); 400 from pageable host memory" in text


needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs the CUDA toolkit's nvcc")


@needs_nvcc
def test_the_counter_library_builds_with_nvcc_once_and_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    library = counter_library()
    assert library.parent == tmp_path / "lassi-ee" and library.exists()
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True).stdout
    assert "InitializeInjection" in symbols
    built = library.stat().st_mtime_ns
    assert counter_library() == library and library.stat().st_mtime_ns == built


@needs_nvcc
def test_a_program_that_never_uses_cuda_reports_no_process(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    counted = count_workload([sys.executable, "-c", "print('hello')"], tmp_path, 60, tmp_path / "counted")
    assert counted.processes == 0 and counted.launches == 0
    assert (tmp_path / "counted" / "stdout.txt").read_text() == "hello\n"
    assert (tmp_path / "counted" / "workload.json").exists()


@needs_nvcc
def test_a_failing_counting_run_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(LassiError, match="the counting run"):
        count_workload([sys.executable, "-c", "raise SystemExit(3)"], tmp_path, 60, tmp_path / "counted")


def test_a_toolkit_without_cupti_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_HOME", str(tmp_path))
    with pytest.raises(LassiError, match="CUPTI .* not found"):
        counter_library()
