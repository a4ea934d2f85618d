"""Measurement benchmark: the tool's NVML protocol beside the paper's, on each CUDA example.

    python -m benchmarks.measurement [--repeats 5] [--paper-runs 3] [--wait 15] [--gpu N] [--json FILE]

For each example it prints, from `--repeats` back-to-back repeats as the tool measures a candidate:
net energy (mean, coefficient of variation, 95% interval), runtime spread, measuring time per
repeat beyond the program's own runtime, and how far the counter's gross energy is from the
instant-power samples integrated over the same window, and whether the spread follows the
runtime or the power. `--bare-runs` plain runs (no meter, no containment) show how much the
program's runtime varies on this machine without the tool. Then, on `--paper-runs` further runs,
each measured by both at once: the paper's net energy (10 ms polling of nvmlDeviceGetPowerUsage,
idle from windows around the run) beside the tool's, and the harness time per run of each.

Beside the examples runs `steady` (benchmarks/steady), a control whose work and pace are the same
every run: its spread is what the meter and the GPU's own state add.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.paper_method import paper_measure
from graph.context import make_context
from nodes.shared.containment import sandbox_for
from tools.build import BINARY_NAME, build, build_command
from tools.energy import RepeatPolicy, choose_meter, measure
from tools.energy.measurement import spread_sources
from tools.energy.stats import summarize
from tools.program import load_program, stage_workspace
from tools.sandbox.runner import run_program

HERE = Path(__file__).parent
FOLDERS = {name: HERE.parent / "examples" / "programs" / name for name in ("transfer-loop", "pageable-copy", "sync-storm")}
FOLDERS["steady"] = HERE / "steady"
# sync-storm's default 120,000 steps run ~4.5 s on an H200; 140,000 take it past 5 s.
ARGS = {"transfer-loop": [], "pageable-copy": [], "sync-storm": ["1024", "140000"], "steady": []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.measurement", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bare-runs", type=int, default=5, help="plain runs timed without the tool (0: none)")
    parser.add_argument("--paper-runs", type=int, default=3, help="runs measured by both methods at once (0: none)")
    parser.add_argument("--wait", type=float, default=15.0, help="the paper harness's wait before and after a run")
    parser.add_argument("--gpu", help="NVML index or UUID")
    parser.add_argument("--examples", nargs="*", default=list(ARGS))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    meter = choose_meter("cuda", args.gpu)
    print(f"GPU {meter.gpu.name} ({meter.gpu.arch}), counter update period {meter.period * 1000:.0f} ms; runs contained by "
          f"{sandbox_for(make_context(gpu=args.gpu), 'cuda').describe()}", flush=True)
    results = [bench(name, meter, args) for name in args.examples]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def bench(name: str, meter, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    prog = load_program(FOLDERS[name])
    stage_workspace(prog, work, prog.read_main())
    built = build(work, build_command("cuda", prog.main, arch=meter.gpu.arch))
    if not built.ok:
        sys.exit(f"{name} did not build: {built.first_error}")
    command = [str(work / BINARY_NAME), *ARGS.get(name, [])]
    sandbox = sandbox_for(make_context(gpu=args.gpu), "cuda")  # contained as the tool contains candidates

    def run():
        result = run_program(command, work, 600, env=meter.child_env(), sandbox=sandbox)
        if not result.ok or "PASS" not in result.stdout:
            sys.exit(f"{name} failed: {result.failure(600)}")
        return result

    _, m = measure(meter, run, RepeatPolicy(args.repeats, args.repeats, budget_s=math.inf))
    net, runtime = m.stat("net_energy_j"), m.stat("duration_s")
    power = summarize([r.net_energy_j / r.duration_s for r in m.readings])
    agreement = max(abs(r.profile_energy_j / r.gross_energy_j - 1) for r in m.readings)
    overhead = (m.wall_s - sum(r.duration_s for r in m.readings)) / len(m.readings)
    row = {"example": name, "args": ARGS.get(name, []), "repeats": len(m.readings),
           "runtime_s": runtime.mean, "runtime_cv": runtime.cv, "net_energy_j": net.mean, "net_energy_cv": net.cv,
           "net_energy_ci95": net.ci95, "net_power_cv": power.cv, "overhead_per_run_s": overhead,
           "gross_vs_profile_max_gap": agreement,
           "eq1_over_net": statistics.mean(r.eq1_energy_j / r.net_energy_j for r in m.readings),
           "runs": [r.to_dict() for r in m.readings]}
    print(f"\n{name} {' '.join(ARGS.get(name, []))}: {len(m.readings)} repeats, runtime {runtime.mean:.2f} s "
          f"(CV {runtime.cv:.1%})\n  tool : net energy {net.mean:.1f} J ± {net.ci95:.1f} (95%), CV {net.cv:.2%}; "
          f"net power CV {power.cv:.2%}; measuring cost {overhead:.2f} s per repeat; "
          f"counter vs sampled gross within {agreement:.2%}; Eq. 1 / net {row['eq1_over_net']:.3f}", flush=True)
    row["spread"] = spread_sources(m.summary())
    print(f"  {row['spread']}", flush=True)
    if args.bare_runs:
        row["bare_runtime_cv"] = bare_runtime_cv(command, work, meter.child_env(), args.bare_runs)
        print(f"  {args.bare_runs} plain runs without the tool: runtime CV {row['bare_runtime_cv']:.1%}", flush=True)
    if args.paper_runs:
        row["paper"] = compare_with_paper(meter, command, work, sandbox, args)
    return row


def bare_runtime_cv(command: list[str], work: Path, env: dict[str, str], runs: int) -> float:
    """How much the program's runtime varies with nothing around it: no meter, no containment."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=work, env={**os.environ, **env}, stdout=subprocess.DEVNULL, check=True)
        seconds.append(time.perf_counter() - start)
    return summarize(seconds).cv


def compare_with_paper(meter, command: list[str], work: Path, sandbox, args) -> dict:
    """Runs measured by the paper's harness and the tool's meter at once."""
    lib, handle = meter.lib, meter.handle
    pairs = []
    with meter.session():
        for _ in range(args.paper_runs):
            box = {}

            def run(box: dict = box) -> tuple[float, float]:
                with meter.window() as window:  # the tool's meter around the same run the paper's harness times
                    box["start"] = time.perf_counter()
                    window.seconds = run_program(command, work, 600, env=meter.child_env(), sandbox=sandbox).seconds
                    box["end"] = time.perf_counter()
                box["reading"] = window.reading
                return box["start"], box["end"]

            paper = paper_measure(lambda: lib.nvmlDeviceGetPowerUsage(handle) / 1000.0, run,
                                  wait_before_s=args.wait, after_s=args.wait)
            pairs.append((paper, box["reading"]))
    paper_net = summarize([p.net_energy_j for p, _ in pairs])
    ours_net = summarize([r.net_energy_j for _, r in pairs])
    ratio = statistics.mean(p.net_energy_j / r.net_energy_j for p, r in pairs)
    overhead = statistics.mean(p.wall_s - r.duration_s for p, r in pairs)
    print(f"  same {len(pairs)} runs, paper's method: net energy {paper_net.mean:.1f} J (CV {paper_net.cv:.2%}), idle "
          f"{statistics.mean(p.idle_power_w for p, _ in pairs):.1f} W; tool: {ours_net.mean:.1f} J (CV {ours_net.cv:.2%}),"
          f" idle {pairs[0][1].idle_power_w:.1f} W; paper / tool {ratio:.3f}; paper harness {overhead:.1f} s per run "
          "beyond the program", flush=True)
    return {"runs": len(pairs), "paper_net_energy_j": paper_net.mean, "paper_net_energy_cv": paper_net.cv,
            "tool_net_energy_j": ours_net.mean, "tool_net_energy_cv": ours_net.cv, "paper_over_tool": ratio,
            "paper_overhead_per_run_s": overhead,
            "paper_idle_w": statistics.mean(p.idle_power_w for p, _ in pairs)}


if __name__ == "__main__":
    sys.exit(main())
