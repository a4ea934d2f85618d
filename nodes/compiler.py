"""`compiler`: build the current candidate. In Stage 0 it first registers the untouched source."""

from __future__ import annotations

import shutil
from pathlib import Path

from langgraph.runtime import Runtime

from graph.context import Context
from graph.record import include_dirs, run_record
from graph.state import SOURCE, State, current, failed_status, new_candidate, program, read_files, store_files
from nodes.shared.containment import guarded_folders, sandbox_for
from tools.build import BINARY_NAME, BuildResult, build, build_command, include_env, shell_command
from tools.errors import LassiError
from tools.gpu import find_gpu
from tools.program import Program, read_source, stage_workspace, write_sources
from tools.rundir import RunDir, write_json, write_text

CONFIGURED_TREE = "build-tree"  # with a configure command: the one tree every candidate is built in


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    prog = program(state)
    update: dict = {}
    if not state.get("candidates"):
        update = _register_source(state, ctx, prog)
        state = {**state, **update}
    cand = current(state)
    if cand["status"] == "discarded":  # the coder got no usable answer: nothing to build
        return update
    run = RunDir(state["run_dir"])
    folder = run.candidate(cand["version"], cand["origin"])
    binary = ctx.binary or BINARY_NAME
    if cand["source"] is None:
        built = BuildResult(ok=False, command=[], log=cand["reason"], seconds=0.0)
    else:
        files = read_files(state, cand)
        stage_workspace(prog, folder / "work", files, ctx.encoding, ctx.follow_links)
        built = build_workspace(prog, ctx, folder / "work", files, run.path / CONFIGURED_TREE, guarded_folders(state))
    write_text(folder / "build.log", f"$ {' '.join(built.command)}\n{built.log}")
    status, reason = _verdict(built, cand, state.get("corrections", 0), ctx.max_corrections, folder)
    record = {**cand, "status": status, "reason": reason,
              "build": {"ok": built.ok, "command": built.command, "seconds": built.seconds,
                        "log_path": run.relative(folder / "build.log"), "binary": run.relative(folder / "work" / binary)}}
    return {**update, "candidates": {**update.get("candidates", {}), state["current"]: record}}


def build_workspace(prog: Program, ctx: Context, work: Path, files: dict[str, str], tree: Path,
                    guarded: tuple[tuple[str, str], ...] = ()) -> BuildResult:
    """The default compiler line in the workspace, or the user's build there or in the configured tree;
    `guarded` folders are watched (a build the user made of an edited Makefile runs the model's commands)."""
    includes = tuple(include_dirs(prog, ctx))
    binary = ctx.binary or BINARY_NAME
    sandbox = sandbox_for(ctx, prog.language, includes, guarded)
    if not ctx.build_command:
        command = build_command(prog.language, prog.sources(ctx.sources), ctx.compile_flags, _arch(prog, ctx),
                                ctx.extra_flags, includes, tuple(ctx.libraries), output=binary)
        return build(work, command, sandbox, binary)
    env = include_env(includes)
    if not ctx.configure_command:
        return build(work, shell_command(ctx.build_command), sandbox, binary, env)
    if not (tree / ".configured").is_file():  # the first build of the run (or one stopped while configuring)
        stage_workspace(prog, tree, files, ctx.encoding, ctx.follow_links)
        configured = build(tree, shell_command(ctx.configure_command), sandbox, None, env)
        if not configured.ok:
            return configured
        (tree / ".configured").write_text(ctx.configure_command + "\n")
    else:
        write_sources(prog, tree, files, ctx.encoding)  # newer than their objects: those alone are rebuilt
    built = build(tree, shell_command(ctx.build_command), sandbox, binary, env)
    if built.ok:  # the candidate runs in its own workspace, with its own copy of the binary
        (work / binary).parent.mkdir(parents=True, exist_ok=True)
        (work / binary).unlink(missing_ok=True)
        shutil.copy2(tree / binary, work / binary)
    return built


def _register_source(state: State, ctx: Context, prog: Program) -> dict:
    """Create the run directory if the caller did not (Studio), and record the source as v000."""
    run = RunDir(state["run_dir"]) if state.get("run_dir") else RunDir.create(ctx.runs_root, prog.folder.name)
    if not run.config.exists():
        write_json(run.config, run_record(prog, state.get("args", []), ctx))
    folder = run.candidate(0, "source")
    files = {name: read_source(prog.folder / name, ctx.encoding)[0] for name in prog.editable(ctx.edit)}
    source_path, sha256, paths = store_files(run, folder, files)
    cand = new_candidate(run, 0, None, "source", "profile", folder, source_path, sha256, files=paths)
    return {"run_dir": str(run.path), "language": prog.language, "stage": "profile", "candidates": {SOURCE: cand},
            "current": SOURCE, "best": None, "next_version": 1, "temperature": ctx.temperature_start,
            "iterations": 0, "corrections": 0, "plans": 0, "llm_calls": {}}


def _arch(prog: Program, ctx: Context) -> str | None:
    """The architecture asked for, else the GPU's (e.g. sm_90); without either nvcc's default is used."""
    if prog.language != "cuda":
        return None
    if ctx.arch:
        return ctx.arch
    try:
        return find_gpu(ctx.gpu).arch
    except LassiError:
        return None


def _verdict(built: BuildResult, cand: dict, corrections: int, budget: int, folder: Path) -> tuple[str, str]:
    """built | build_failed (a fix will be asked for) | discarded (budget spent); the source must build."""
    if built.ok:
        return "built", ""
    first = built.first_error()
    if cand["origin"] == "source":
        raise LassiError(f"the source does not build: {first} (full log: {folder / 'build.log'})")
    return failed_status("build", first, corrections, budget)
