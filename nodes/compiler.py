"""`compiler`: build the current candidate. In Stage 0 it first registers the untouched source."""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from graph.context import Context
from graph.record import run_record
from graph.state import SOURCE, State, current, failed_status, new_candidate, program, read_code
from nodes.shared.containment import sandbox_for
from tools.build import BuildResult, build, build_command
from tools.errors import LassiError
from tools.gpu import find_gpu
from tools.program import Program, sha256_text, stage_workspace
from tools.rundir import RunDir, write_json, write_text


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    prog = program(state)
    update: dict = {}
    if not state.get("candidates"):
        update = _register_source(state, ctx, prog)
        state = {**state, **update}
    cand = current(state)
    folder = RunDir(state["run_dir"]).candidate(cand["version"], cand["origin"])
    if cand["source"] is None:
        built = BuildResult(ok=False, command=[], log=cand["reason"], seconds=0.0)
    else:
        stage_workspace(prog, folder / "work", read_code(state, cand), ctx.follow_links)
        built = build(folder / "work", build_command(prog.language, prog.main, ctx.compile_flags, _arch(prog, ctx)),
                      sandbox_for(ctx, prog.language))
    write_text(folder / "build.log", f"$ {' '.join(built.command)}\n{built.log}")
    status, reason = _verdict(built, cand, state.get("corrections", 0), ctx.max_corrections, folder)
    record = {**cand, "status": status, "reason": reason,
              "build": {"ok": built.ok, "command": built.command, "seconds": built.seconds,
                        "log_path": RunDir(state["run_dir"]).relative(folder / "build.log")}}
    return {**update, "candidates": {**update.get("candidates", {}), state["current"]: record}}


def _register_source(state: State, ctx: Context, prog: Program) -> dict:
    """Create the run directory if the caller did not (Studio), and record the source as v000."""
    run = RunDir(state["run_dir"]) if state.get("run_dir") else RunDir.create(ctx.runs_root, prog.folder.name)
    if not run.config.exists():
        write_json(run.config, run_record(prog, state.get("args", []), ctx))
    folder = run.candidate(0, "source")
    code = prog.read_main()
    write_text(folder / prog.main, code)
    cand = new_candidate(run, 0, None, "source", "profile", folder, folder / prog.main, sha256_text(code))
    return {"run_dir": str(run.path), "language": prog.language, "stage": "profile", "candidates": {SOURCE: cand},
            "current": SOURCE, "best": None, "next_version": 1, "temperature": ctx.temperature_start,
            "iterations": 0, "corrections": 0, "plans": 0, "llm_calls": {}}


def _arch(prog: Program, ctx: Context) -> str | None:
    """The GPU's architecture (e.g. sm_90); without a GPU nvcc's default is used, so builds still work."""
    if prog.language != "cuda":
        return None
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
