"""What must hold before a run starts: the settings, the program, its compiler, the sandbox asked for,
the GPU, the models and their keys, the knowledge documents. Checked before any work, so a mistake
costs seconds rather than Stage 0's minutes of measuring, whichever face started the run."""

from __future__ import annotations

from graph.context import Context
from knowledge.documents import load_documents
from tools.build import compiler_for
from tools.energy.meters import check_meter_choice
from tools.gpu import find_gpu
from tools.llm import check_model
from tools.program import Program, load_program
from tools.sandbox import choose_sandbox


def check_tools(language: str, ctx: Context) -> None:
    """Fail when a compiler, the GPU, the sandbox asked for, a model file or an API key is missing."""
    compiler_for(language)
    choose_sandbox(ctx.sandbox)
    check_meter_choice(language, ctx.gpu)
    if language == "cuda":
        find_gpu(ctx.gpu)
    if not ctx.stop_after_profile:
        for name in sorted(set(ctx.models().values())):
            check_model(name, ctx.base_url)


def check_run(program: str, main: str | None, ctx: Context) -> Program:
    """Every check of a new run; the program it names."""
    prog = load_program(program, main)
    check_tools(prog.language, ctx)
    if not ctx.stop_after_profile:
        load_documents(ctx.knowledge)  # a bad path or selection is reported now, not after Stage 1
    return prog
