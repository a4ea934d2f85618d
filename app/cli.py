"""The `lassi-ee` command: optimize, resume, profile, build, report, bench."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import tempfile
import traceback
from pathlib import Path

from app.progress import Progress
from graph.context import GROUPS, face_name, parse_repeats, settings
from graph.state import label
from tools.errors import Interrupted, LassiError


def main(argv: list[str] | None = None) -> int:
    from dotenv import find_dotenv, load_dotenv

    load_dotenv(find_dotenv(usecwd=True))  # the .env of the folder the user works in
    try:
        args = _parser().parse_args(argv)
        return args.handler(args)
    except Interrupted as exc:
        print(f"lassi-ee: {exc.spelled(spell)}", file=sys.stderr)
        return 130
    except LassiError as exc:
        print(f"lassi-ee: error: {exc.spelled(spell)}", file=sys.stderr)
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
    print(f"Models — {describe_models(ctx.models(), ctx.base_url)}")
    with Progress(corrections_budget=ctx.max_corrections) as progress:
        result = optimize(args.program, _split(args.args), main=args.main, run_dir=args.run_dir, on_step=progress,
                          **settings)
    _print_result(result)
    return 0


def _resume(args) -> int:
    from app.api import resume, run_context

    with Progress(corrections_budget=run_context(args.run_dir).max_corrections) as progress:
        result = resume(args.run_dir, on_step=progress, model=args.model, base_url=args.base_url)
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
    print(f"  device: {m['device'].get('name')}; stdout and measurement.json in {result.run_dir / src['dir']}")
    for what, key in (("power trace", "trace_path"), ("power plot", "plot_path")):
        if m.get(key):
            print(f"  {what}: {result.run_dir / m[key]}")
    return 0


def _build(args) -> int:
    from app.api import build

    with Progress() as progress:
        result = build(args.program, main=args.main, run_dir=args.run_dir, on_step=progress, **_settings(args))
    built = result.source["build"]
    print(f"\nBuilt {result.run_dir / built['binary']} in {built['seconds']:.1f} s\n  $ {' '.join(built['command'])}\n"
          f"  log: {result.run_dir / built['log_path']}")
    return 0


def _bench(args) -> int:
    from app.bench import bench, status

    if args.status:
        print(status(args.suite, args.out))
        return 0
    result = bench(args.suite, args.out, say=lambda line: print(line, flush=True), progress=Progress,
                   gpus=args.gpus, cpus_per_trial=args.cpus_per_trial, executor=args.executor)
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
    print(f"\nBest: {label(best)} ({best['origin']})   run directory: {result.run_dir}")
    for row in result.table:
        print(f"  {row['metric']:<42} {row['source']:>16} {row['best']:>16} {row['change']:>8}")
    _print_report(result.report_path)


def _print_report(path: Path) -> None:
    print(f"Report: {path}\n        {path.with_suffix('.html')}")


def _settings(args) -> dict:
    """The settings the user gave on the command line (the rest keep their defaults)."""
    given = {}
    for declared in settings():
        value = getattr(args, declared.name, None)
        if value is not None:
            given[declared.name] = value
    if getattr(args, "repeats", None) is not None:
        given["min_repeats"], given["max_repeats"] = parse_repeats(args.repeats)
    return given


def _split(text: str | None) -> list[str]:
    try:
        return shlex.split(text or "")
    except ValueError as exc:
        raise LassiError(f"{{setting}} could not be split like a shell line: {exc}", setting="args") from None


def spell(name: str) -> str:
    """How the CLI names a setting: its option."""
    return f"--{face_name(name)}"


class _Parser(argparse.ArgumentParser):
    """Wrong options get the one-line error every other bad input gets, not a usage block."""

    def error(self, message: str):
        raise LassiError(f"{message} (see {self.prog} --help)")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Examples keep their lines; option help is wrapped."""


EXAMPLES = {
    "optimize": """examples:
  lassi-ee optimize examples/programs/heat2d --args "1500 80" --model openai:o3-mini
  lassi-ee optimize examples/programs/heat2d --model scripted:examples/sessions/heat2d/session.json
  lassi-ee optimize my-program --model vllm:qwen2.5-coder --base-url http://localhost:8000/v1 --repeats 5""",
    "profile": """examples:
  lassi-ee profile examples/programs/heat2d --args "1500 80"
  lassi-ee profile examples/programs/transfer-loop --gpu 1 --repeats 5""",
    "build": """examples:
  lassi-ee build examples/programs/heat2d --arch sm_90
  lassi-ee build my-program --build "make ARCH=sm_80" --binary bin/solver""",
    "resume": """examples:
  lassi-ee resume lassi-runs/20261201-101500-heat2d
  lassi-ee resume lassi-runs/20261201-101500-heat2d --model vllm:qwen2.5-coder --base-url http://gpu2:8000/v1""",
    "report": """examples:
  lassi-ee report lassi-runs/20261201-101500-heat2d""",
    "bench": """examples:
  lassi-ee bench examples/suites/heat2d-scripted.toml
  lassi-ee bench examples/suites/examples.toml --out lassi-runs/bench-examples
  lassi-ee bench examples/suites/examples.toml --gpus all
  lassi-ee bench examples/suites/heat2d-scripted.toml --cpus-per-trial 1
  lassi-ee bench examples/suites/examples.toml --executor slurm
  lassi-ee bench examples/suites/examples.toml --executor slurm --status""",
}


def _add_settings(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of a command, one per declared setting, in the declaration's groups."""
    groups = {}
    for declared in settings():
        if command not in declared.commands:
            continue
        group = groups.get(declared.group) or parser.add_argument_group(GROUPS[declared.group])
        groups[declared.group] = group
        if declared.face == "repeats":
            if declared.name == "min_repeats":
                group.add_argument("--repeats", metavar="N|MIN-MAX", help="measured runs per candidate: N, or MIN-MAX"
                                   " to stop between them once the interval is tight enough (default 3-10)")
            continue
        option = f"--{declared.face}"
        if declared.kind is bool:
            group.add_argument(option, dest=declared.name, action="store_true", default=None,
                               help=declared.description)
            continue
        description = declared.description
        if command == "resume":  # a resumed run keeps what it started with unless told otherwise
            description = re.sub(r"\s*\(default[^()]*\)$", "", description) + " (default: as the run recorded it)"
        said = declared.default in (None, [], "") or "(default" in description
        shown = "" if said else f" (default {declared.default:g})" if isinstance(declared.default, float) \
            else f" (default {declared.default})"
        common = {"dest": declared.name, "help": description.replace("%", "%%") + shown}
        if declared.kind is list:
            group.add_argument(option, action="append", metavar=declared.metavar or "TEXT", **common)
        elif declared.choices:
            group.add_argument(option, choices=declared.choices, **common)
        else:
            kind = {int: int, float: float}.get(declared.kind, str)
            metavar = declared.metavar or {int: "N", float: "X"}.get(declared.kind, declared.face.split("-")[-1].upper())
            group.add_argument(option, type=kind, metavar=metavar, **common)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lassi-ee", description="Rewrite a CUDA or C++/OpenMP program to use less"
                                     " energy with an LLM, measuring and validating every candidate.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, epilog=EXAMPLES[name], formatter_class=_Help)

    def program_options(p: argparse.ArgumentParser, runs: bool = True) -> None:
        p.add_argument("program", help="folder holding the program (main.cu or main.cpp and what it needs)")
        run = p.add_argument_group("the program")
        if runs:
            run.add_argument("--args", help='the program\'s arguments, as one quoted string: --args "1000 20"')
        run.add_argument("--main", help="main source file name when the folder holds several sources")
        run.add_argument("--run-dir", help="where to write the run (default: <runs-root>/<time>-<program>)")

    opt = command("optimize", "run the whole pipeline on a program")
    program_options(opt)
    _add_settings(opt, "optimize")
    opt.set_defaults(handler=_optimize)

    res = command("resume", "continue a run from its last checkpoint")
    res.add_argument("run_dir", help="the run directory")
    _add_settings(res, "resume")
    res.set_defaults(handler=_resume)

    prof = command("profile", "Stage 0 alone: build, run and measure a program")
    program_options(prof)
    _add_settings(prof, "profile")
    prof.set_defaults(handler=_profile)

    bld = command("build", "build the source alone, as a run would, without running it: a CUDA program needs"
                  " nvcc, no GPU (name the architecture with --arch)")
    program_options(bld, runs=False)
    _add_settings(bld, "build")
    bld.set_defaults(handler=_build)

    rep = command("report", "rebuild report.md and report.html of a finished run from its directory"
                  " (no model is called)")
    rep.add_argument("run_dir", help="the run directory")
    rep.set_defaults(handler=_report)

    ben = command("bench", "run every program of a suite file for its trials, then write a suite report")
    ben.add_argument("suite", help="the suite: a TOML (or YAML) file listing programs, arguments, trials and models")
    ben.add_argument("--out", help="folder of the suite's runs and report; the same command again continues it"
                     " (default lassi-runs/bench-<suite name>)")
    where = ben.add_argument_group("where trials run")
    where.add_argument("--gpus", metavar="LIST", help="run CUDA trials side by side, one per GPU: NVML indices or"
                       " UUIDs separated by commas, or all")
    where.add_argument("--cpus-per-trial", type=int, metavar="N", help="run C++ trials side by side, each pinned"
                       " to N cores of its own (on Slurm: the cores each trial's job asks for)")
    where.add_argument("--executor", choices=("local", "slurm"), default="local", help="local: on this machine;"
                       " slurm: each trial a Slurm job, as the suite's [slurm] table asks (default local)")
    where.add_argument("--status", action="store_true", help="list the suite's trials (not started, queued,"
                       " running, paused, finished, failed) with their job ids, and start nothing")
    ben.set_defaults(handler=_bench)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lassi-ee")
    except PackageNotFoundError:
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main())
