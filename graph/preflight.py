"""What must hold before a run starts: the settings, the program and the files its settings name, its
compiler, the sandbox asked for, the GPU, the models and their keys, the knowledge documents. Checked
before any work, so a mistake costs seconds rather than Stage 0's minutes of measuring, whichever face
started the run."""

from __future__ import annotations

from graph.context import ROLES, Context
from graph.record import include_dirs
from knowledge.documents import load_documents
from tools.build import compiler_for
from tools.energy.meters import check_meter_choice
from tools.gpu import find_gpu
from tools.llm import check_model
from tools.llm.servers import check_served
from tools.program import Program, load_program, read_source
from tools.sandbox import choose_sandbox


def check_tools(language: str, ctx: Context, runs: bool = True) -> None:
    """Fail when a compiler, the sandbox asked for, the GPU a run needs, a model file, an API key, a model
    server or a model it should serve is missing. A build alone (`runs` False) needs no GPU; the user's own
    build brings its own compiler."""
    if not ctx.build_command:
        compiler_for(language)
    choose_sandbox(ctx.sandbox)
    if not runs:
        return
    check_meter_choice(language, ctx.gpu)
    if language == "cuda":
        find_gpu(ctx.gpu)
    if not ctx.stop_after_profile:
        check_models(ctx)


def check_models(ctx: Context) -> None:
    """Each role's model on the server its calls go to: its name, its key, and (asked once per model and
    server) whether the server serves it (its /v1/models list)."""
    asked = set()
    for role in ROLES:
        name, url = ctx.model_for(role), ctx.base_url_for(role)
        if (name, url) not in asked:
            asked.add((name, url))
            spec = check_model(name, url, ctx.api_key_env)
            if spec.provider != "scripted":
                check_served(spec)


def check_program_files(prog: Program, ctx: Context) -> None:
    """The files and folders the settings name: editable files (readable in their encoding) and sources
    inside the folder, include folders that exist."""
    for name in prog.editable(ctx.edit):
        read_source(prog.folder / name, ctx.encoding)
    prog.sources(ctx.sources)
    include_dirs(prog, ctx)


def check_run(program: str, main: str | None, ctx: Context, runs: bool = True) -> Program:
    """Every check of a new run (of a build alone when `runs` is False); the program it names."""
    prog = load_program(program, main)
    check_program_files(prog, ctx)
    check_tools(prog.language, ctx, runs)
    if not ctx.stop_after_profile:
        load_documents(ctx.knowledge)  # a bad path or selection is reported now, not after Stage 1
    return prog
