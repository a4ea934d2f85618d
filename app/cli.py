"""The `lassi-ee` command: optimize, resume, profile, report, bench."""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import traceback
from pathlib import Path

from app.progress import Progress
from graph.context import parse_repeats
from tools.errors import Interrupted, LassiError
from tools.sandbox import MODES as SANDBOX_MODES


def main(argv: list[str] | None = None) -> int:
    from dotenv import find_dotenv, load_dotenv

    load_dotenv(find_dotenv(usecwd=True))  # the .env of the folder the user works in
    try:
        args = _parser().parse_args(argv)
        return args.handler(args)
    except Interrupted as exc:
        print(f"lassi-ee: {exc}", file=sys.stderr)
        return 130
    except LassiError as exc:
        print(f"lassi-ee: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before any run directory existed
        print("lassi-ee: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: keep the traceback out of the user's way but never lose it
        print(f"lassi-ee: internal error: {exc.__class__.__name__}: {exc} ({_save_traceback()})", file=sys.stderr)
        return 70


def _save_traceback() -> str:
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        log = folder / "lassi-ee-crash.log"
        try:
            log.write_text(traceback.format_exc())
            return f"traceback in {log}"
        except OSError:
            continue
    return "the traceback could not be saved"


def _optimize(args) -> int:
    from app.api import optimize
    from graph.context import make_context
    from tools.report.run_report import describe_models

    settings = _settings(args)
    ctx = make_context(**settings)
    print(f"Models — {describe_models(ctx.models())}")
    with Progress(corrections_budget=ctx.max_corrections) as progress:
        result = optimize(args.program, _split(args.args), main=args.main, run_dir=args.run_dir, on_step=progress,
                          **settings)
    _print_result(result)
    return 0


def _resume(args) -> int:
    from app.api import resume, run_context

    with Progress(corrections_budget=run_context(args.run_dir).max_corrections) as progress:
        result = resume(args.run_dir, on_step=progress)
    _print_result(result)
    return 0


def _report(args) -> int:
    from app.api import report

    _print_report(report(args.run_dir))
    return 0


def _profile(args) -> int:
    from app.api import profile
    from tools.energy.measurement import spread_sources
    from tools.energy.metrics import describe_measurement, with_interval

    with Progress() as progress:
        result = profile(args.program, _split(args.args), main=args.main, run_dir=args.run_dir, on_step=progress,
                         **_settings(args))
    src = result.source
    m = src["measurement"]
    print(f"\n{Path(args.program).name}: {describe_measurement(src.get('measurement'))}")
    for i, reading in enumerate(m["readings"], 1):
        figures = [f"duration {reading['duration_s']:.3f} s"]
        if reading.get("gross_energy_j") is not None:
            figures.append(f"gross energy {reading['gross_energy_j']:.1f} J")
        if reading.get("net_energy_j") is not None:
            figures += [f"net energy {reading['net_energy_j']:.1f} J", f"idle {reading['idle_power_w']:.1f} W"]
        if reading.get("avg_power_w") is not None:
            figures.append(f"average power {reading['avg_power_w']:.1f} W")
        print(f"  run {i}: " + ", ".join(figures))
    objective = m["stats"][m["objective"]]
    print(f"  {m['repeats']} runs: {m['objective']} {with_interval(objective)} (95% interval), "
          f"spread {objective['std'] / objective['mean']:.1%} of the mean; stopped after {m['stop_reason']}")
    if spread := spread_sources(m):
        print(f"  {spread}")
    print(f"  measuring took {m['overhead_per_repeat_s']:.2f} s per run beyond the program's own time")
    print(f"  device: {m['device'].get('name')}; stdout and measurement.json in {src['dir']}")
    for label, key in (("power trace", "trace_path"), ("power plot", "plot_path")):
        if m.get(key):
            print(f"  {label}: {m[key]}")
    return 0


def _bench(args) -> int:
    from app.bench import bench

    result = bench(args.suite, args.out, say=lambda line: print(line, flush=True), progress=Progress)
    print(f"\nSuite of {len(result.figures['programs'])} programs: {result.started} trials started,"
          f" {result.resumed} resumed, {result.skipped} finished earlier")
    print(result.table)
    print(f"Suite report: {result.report_path}")
    return 0


def _print_result(result) -> None:
    if not result.finished:
        print(f"\nRun paused before its end; continue with: lassi-ee resume {result.run_dir}")
        return
    best = result.best
    print(f"\nBest: v{best['version']:03d} ({best['origin']})   run directory: {result.run_dir}")
    for row in result.table:
        print(f"  {row['metric']:<42} {row['source']:>16} {row['best']:>16} {row['change']:>8}")
    _print_report(result.report_path)


def _print_report(path: Path) -> None:
    print(f"Report: {path}\n        {path.with_suffix('.html')}")


def _settings(args) -> dict:
    names = ["model", "coder_model", "judge_model", "summarizer_model", "planner_model", "reporter_model", "base_url",
             "gpu", "max_iterations", "max_corrections", "target_ci", "repeat_budget_s", "min_improvement", "time_limit",
             "runs_root", "max_llm_retries", "knowledge", "cache_dir",
             "rtol", "atol", "check_args", "strict_workload",
             "sandbox", "max_processes", "max_memory_mb", "max_file_mb"]
    settings = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if getattr(args, "repeats", None) is not None:
        settings["min_repeats"], settings["max_repeats"] = parse_repeats(args.repeats)
    if getattr(args, "flags", None) is not None:
        settings["compile_flags"] = args.flags
    if getattr(args, "mask", None) is not None:
        settings["output_masks"] = args.mask
    return settings


def _split(text: str | None) -> list[str]:
    try:
        return shlex.split(text or "")
    except ValueError as exc:
        raise LassiError(f"--args could not be split like a shell line: {exc}") from None


class _Parser(argparse.ArgumentParser):
    """Wrong options get the one-line error every other bad input gets, not a usage block."""

    def error(self, message: str):
        raise LassiError(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lassi-ee", description="Rewrite a CUDA or C++/OpenMP program to use less"
                                     " energy with an LLM, measuring and validating every candidate.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def program_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("program", help="folder holding the program (main.cu or main.cpp and what it needs)")
        p.add_argument("--args", help='the program\'s arguments, as one quoted string: --args "1000 20"')
        p.add_argument("--main", help="main source file name when the folder holds several sources")
        p.add_argument("--gpu", help="GPU to run and measure on: NVML index or UUID (default 0)")
        p.add_argument("--repeats", help="measured runs per candidate: N, or MIN-MAX to stop between them once the "
                       "interval is tight enough (default 3-10)")
        p.add_argument("--target-ci", type=float, help="stop repeating once the 95%% interval of the objective is "
                       "within this fraction of its mean (default 0.02)")
        p.add_argument("--repeat-budget", dest="repeat_budget_s", type=float,
                       help="seconds one candidate's repeats may take before repeating stops (default 300)")
        p.add_argument("--time-limit", type=float, help="seconds a run may take (default: 600 for the source, "
                       "3x its runtime + 10 for candidates)")
        p.add_argument("--flags", help="compiler flags replacing the defaults (the GPU's -arch is added)")
        p.add_argument("--run-dir", help="where to write the run (default: lassi-runs/<time>-<program>)")
        p.add_argument("--runs-root", help="folder for new run directories (default lassi-runs)")
        p.add_argument("--sandbox", choices=SANDBOX_MODES, help="containment of builds and runs: bubblewrap "
                       "(no network, read-only filesystem outside the scratch folder), none (resource limits "
                       "only), or auto: bubblewrap where it works (default)")
        p.add_argument("--max-processes", type=int, help="processes and threads a build or run may have at once "
                       "(default: 256, or more on machines with many cores)")
        p.add_argument("--max-memory-mb", type=int, help="memory a build or run may use (default: 3/4 of the machine's)")
        p.add_argument("--max-file-mb", type=int, help="largest file a build or run may write (default 4096)")

    opt = sub.add_parser("optimize", help="run the whole pipeline on a program")
    program_options(opt)
    opt.add_argument("--model", help="provider:model for every role, e.g. openai:o3-mini, ollama:qwen2.5-coder, "
                     "scripted:PATH (default $LASSI_MODEL or openai:o3-mini)")
    for role in ("coder", "judge", "summarizer", "planner", "reporter"):
        opt.add_argument(f"--{role}-model", help=f"model for the {role} role (default --model)")
    opt.add_argument("--base-url", help="base URL of an OpenAI-compatible server")
    opt.add_argument("--max-llm-retries", type=int, help="retries of a failing model call, with growing waits "
                     "(default 5)")
    opt.add_argument("--max-iterations", type=int, help="Stage 3 candidates at most (default 10)")
    opt.add_argument("--max-corrections", type=int, help="fixes per candidate before it is dropped (default 5)")
    opt.add_argument("--min-improvement", type=float, help="fraction by which a candidate must beat the best "
                     "(default 0.02)")
    opt.add_argument("--knowledge", action="append", metavar="PATH[#SELECTION]",
                     help="a PDF, Markdown, HTML or text document to add to the knowledge (repeatable); select part"
                     " of it with #pages=12-15 (PDF), #sections=Heading;2.1 (Markdown, HTML, PDF bookmarks) or"
                     " #lines=10-80 (text)")
    opt.add_argument("--cache-dir", help="folder of the summaries kept between runs (default "
                     "$XDG_CACHE_HOME/lassi-ee or ~/.cache/lassi-ee)")
    opt.add_argument("--check-args", action="append", metavar='"ARGS"', help="another argument set (one quoted "
                     "string; repeatable) on which source and candidates must print the same output")
    opt.add_argument("--strict-workload", action="store_true", default=None, help="reject candidates that launch "
                     "fewer kernels or threads than the source (CUPTI counts; otherwise such drops are flagged)")
    opt.add_argument("--rtol", type=float, help="relative tolerance for numbers in the output (default 1e-6)")
    opt.add_argument("--atol", type=float, help="absolute tolerance for numbers in the output (default 1e-12)")
    opt.add_argument("--mask", action="append", metavar="REGEX", help="ignore output lines matching REGEX when "
                     "comparing outputs, beside the built-in timing patterns (repeatable)")
    opt.set_defaults(handler=_optimize)

    res = sub.add_parser("resume", help="continue a run from its last checkpoint")
    res.add_argument("run_dir", help="the run directory")
    res.set_defaults(handler=_resume)

    prof = sub.add_parser("profile", help="Stage 0 alone: build, run and measure a program")
    program_options(prof)
    prof.set_defaults(handler=_profile)

    rep = sub.add_parser("report", help="rebuild report.md and report.html of a finished run from its directory"
                         " (no model is called)")
    rep.add_argument("run_dir", help="the run directory")
    rep.set_defaults(handler=_report)

    ben = sub.add_parser("bench", help="run every program of a suite file for its trials, then write a suite report")
    ben.add_argument("suite", help="the suite: a TOML (or YAML) file listing programs, arguments, trials and models")
    ben.add_argument("--out", help="folder of the suite's runs and report; the same command again continues it"
                     " (default lassi-runs/bench-<suite name>)")
    ben.set_defaults(handler=_bench)
    return parser


if __name__ == "__main__":
    sys.exit(main())
