"""The user's own checks, as validation layers: a verification build and a check command.

Benchmark programs often carry their own reference check, switched on by a compile flag (`-DVERIFY`
prints checksums, compares with a serial run, ...), or come with a script that checks a run's
results. Both see the results where the printed output does not, so a pass clears a flagged drop
in work. The source runs each once, at the first candidate judged, and must pass; its verification
output is what the candidates' must agree with.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from functools import partial

from graph.context import Context
from graph.state import Candidate, State, read_files, read_stdout, run_dir
from nodes.compiler import build_workspace  # the compiler's own build, here with the flags added
from tools.build import BINARY_NAME
from tools.errors import LassiError
from tools.outputs import DEFAULT_MASKS, OutputCheck, compare_outputs, failing_verdicts
from tools.program import Program, stage_workspace
from tools.rundir import RunDir, write_recorded, write_text
from tools.sandbox import Sandbox
from tools.sandbox.runner import run_program

OUTPUT_VARIABLE, FOLDER_VARIABLE = "LASSI_OUTPUT", "LASSI_WORKDIR"  # what the check command is given
OUTPUT_COPY = "lassi-output.txt"  # the run's output, copied into its working folder for the check command


def output_comparison(ctx: Context):
    """compare_outputs with the run's tolerances, masks and evidence threshold."""
    return partial(compare_outputs, rtol=ctx.rtol, atol=ctx.atol, masks=(*DEFAULT_MASKS, *ctx.output_masks),
                   min_numbers=ctx.min_output_numbers)


def verification_run(state: State, prog: Program, ctx: Context, cand: Candidate, args: list[str], limit: float,
                     env: dict[str, str], sandbox: Sandbox) -> dict:
    """Build the candidate with the verification flags added and run it once: {ok, failure, stdout_path}."""
    built = variant_runs(state, prog, ctx, cand, ctx.verify_flags, "verify", [args], limit, env, sandbox)
    return built["runs"][0] if built["ok"] else built


def variant_runs(state: State, prog: Program, ctx: Context, cand: Candidate, flags: str, name: str,
                 arg_sets: list[list[str]], limit: float, env: dict[str, str], sandbox: Sandbox) -> dict:
    """Build the candidate with `flags` added, in its folder's `name`/, and run it once on each argument list.

    {ok, failure, stdout_path} for a build that failed (the path is its log), else {ok: True, runs: [one
    such record per run, with its args and stdout_sha256]}: a run that fails, or whose output reports a
    failure, is not ok.
    """
    run = run_dir(state)
    folder = run.at(cand["dir"]) / name
    files = read_files(state, cand)
    stage_workspace(prog, folder / "work", files, ctx.encoding, ctx.follow_links)
    variant = replace(ctx, extra_flags=" ".join(f for f in (ctx.extra_flags, flags) if f))
    built = build_workspace(prog, variant, folder / "work", files, folder / "configured", sandbox.guarded)
    write_text(folder / "build.log", f"$ {' '.join(built.command)}\n{built.log}")
    if not built.ok:
        return {"ok": False, "failure": f"did not build with {flags!r}: {built.first_error()}",
                "stdout_path": run.relative(folder / "build.log")}
    binary = folder / "work" / (ctx.binary or BINARY_NAME)
    runs = []
    for number, args in enumerate(arg_sets):
        result = run_program([str(binary), *args], folder / "work", limit, env=env, sandbox=sandbox)
        suffix = "" if number == 0 else f"-{number + 1}"
        stdout_sha256 = write_recorded(folder / f"stdout{suffix}.txt", result.stdout)
        write_text(folder / f"stderr{suffix}.txt", result.stderr)
        failing = failing_verdicts(result.stdout)
        failure = result.failure(limit) if not result.ok else (
            f"reported a failure ({', '.join(map(repr, failing))})" if failing else "")
        runs.append({"args": shlex.join(args), "ok": not failure, "failure": failure, "seconds": result.seconds,
                     "stdout_path": run.relative(folder / f"stdout{suffix}.txt"), "stdout_sha256": stdout_sha256})
    return {"ok": True, "runs": runs}


def check_command_run(state: State, command: str, cand: Candidate, limit: float, sandbox: Sandbox) -> dict:
    """Run the user's check command in the candidate's working folder: {ok, failure, stdout_path}."""
    run = run_dir(state)
    work = run.at(cand["dir"]) / "work"
    output = work / OUTPUT_COPY  # inside the scratch folder, the one place a contained command surely sees
    output.write_text(read_stdout(state, cand))
    result = run_program(["sh", "-c", command], work, limit, sandbox=sandbox,
                         env={OUTPUT_VARIABLE: str(output), FOLDER_VARIABLE: str(work)})
    folder = run.at(cand["dir"]) / "check-cmd"
    write_text(folder / "stdout.txt", result.stdout + result.stderr)
    last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["no output"]
    failure = "" if result.ok else f"{result.failure(limit)}: {last[0][:200]}"
    return {"ok": result.ok, "failure": failure, "stdout_path": run.relative(folder / "stdout.txt")}


def source_must_pass(run: dict, what: str, setting: str) -> dict:
    """The source's own run of a user check; one that fails stops the run with one line."""
    if not run["ok"]:
        raise LassiError(f"the source {run['failure']} in its {what} (see {run['stdout_path']}): its own check must"
                         f" pass before candidates can be held to it ({{setting}})", setting=setting)
    return run


def verify_check(run: RunDir, source_run: dict, candidate_run: dict,
                 compare) -> tuple[bool | None, str, OutputCheck | None]:
    """The verification layer's verdict: the candidate's run passes and agrees with the source's."""
    if not candidate_run["ok"]:
        return False, f"the verification build {candidate_run['failure']}", None
    found = compare(run.at(source_run["stdout_path"]).read_text(), run.at(candidate_run["stdout_path"]).read_text())
    if not found.same:
        return False, f"the verification build's output differs from the source's: {found.reason}", found
    if not found.conclusive:
        return None, f"the verification build agrees with the source's, but {found.reason}", found
    return True, f"the verification build agrees with the source's: {found.reason}", found
