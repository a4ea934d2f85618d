"""Where the totals of CUPTI's counts are blind, on recorded counter reports: one kernel doing less while
another does more, and results that are never fully copied back; and the honest look-alikes that stay
unflagged (kernels fused, a copy back hoisted out of the repeat loop)."""

from __future__ import annotations

from tools.workload import compare_workloads, parse_counts


def report(kernels: dict[str, tuple[int, int]], back: tuple[int, int] = (10, 10 * 4096)) -> str:
    """A counter report: kernels as name -> (launches, threads per launch), and the copies back (count, bytes)."""
    lines = ["process\t1"]
    lines += [f"kernel\t{n}\t{n * t}\t{n * 1000}\tvoid {name}(float*, int)" for name, (n, t) in kernels.items()]
    if back[0]:
        lines.append(f"copy\t{back[0]}\t{back[1]}\t{back[0] * 500}\tdevice-to-host\tpageable")
    return "\n".join([*lines, "end", ""])


SOURCE = parse_counts(report({"update": (10, 4096), "reduce": (10, 1024)}))


def test_one_kernel_doing_less_is_flagged_even_when_the_totals_hold():
    shifted = parse_counts(report({"update": (10, 2048), "reduce": (10, 3072)}))
    assert shifted.launches == SOURCE.launches and shifted.threads == SOURCE.threads
    found = compare_workloads(SOURCE, shifted)
    assert found.flagged and found.findings[0] == "`update` ran 20,480 threads in all its launches instead of 40,960 (-50%)"


def test_kernels_fused_into_one_are_noted_not_flagged():
    fused = parse_counts(report({"update_and_reduce": (20, 2560)}))
    found = compare_workloads(SOURCE, fused)
    assert not found.flagged and "kernels of the source never launched: reduce, update" in found.reason


def test_results_never_copied_back_in_full_are_flagged():
    found = compare_workloads(SOURCE, parse_counts(report({"update": (10, 4096), "reduce": (10, 1024)}, back=(0, 0))))
    assert found.flagged and "results copied back to the host fell from 40 KiB to 0 B" in found.reason
    partial = parse_counts(report({"update": (10, 4096), "reduce": (10, 1024)}, back=(1, 2048)))
    assert compare_workloads(SOURCE, partial).flagged


def test_a_copy_back_hoisted_out_of_the_repeat_loop_is_not_flagged():
    hoisted = parse_counts(report({"update": (10, 4096), "reduce": (10, 1024)}, back=(1, 4096)))
    found = compare_workloads(SOURCE, hoisted)
    assert not found.flagged and "device-to-host copies moved 4 KiB instead of 40 KiB" in found.reason
