"""`summarizer`: Stage 2 context — knowledge, machine and code summaries, asked concurrently.

Each summary is cached on disk (tools/cache.py) under a key of the model, the prompt template and
the rendered prompt, which holds the knowledge, the machine description or the source: a second run
on the same machine, knowledge and source pays for none of them, and any change asks again.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import State, program, read_code, run_dir, source
from knowledge import load_knowledge
from nodes.shared.models import LANGUAGE_NAMES, ask
from tools.cache import ReplyCache
from tools.rundir import write_text
from tools.sysinfo import describe_machine


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    prog = program(state)
    knowledge = load_knowledge(prog.language, ctx.knowledge)
    machine = describe_machine(prog.language, ctx.gpu)
    context_dir = run_dir(state).context
    write_text(context_dir / "knowledge.md", knowledge)
    write_text(context_dir / "machine.txt", machine)
    language = LANGUAGE_NAMES[prog.language]
    requests = {
        "knowledge": ("summarize_knowledge", {"language_name": language, "knowledge": knowledge}),
        "system": ("summarize_system", {"system": machine}),
        "code": ("summarize_code", {"knowledge": knowledge, "code": read_code(source(state)), "main": prog.main}),
    }
    cache = ReplyCache(ctx.cache_dir)

    def summarize(task: str):
        prompt, values = requests[task]
        return ask(state, ctx, "summarizer", prompt, ctx.temperature_start, task=task, cache=cache, **values)

    # Each in a copy of the node's context, so that a call waiting to be retried reaches the progress line.
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        asked = {task: pool.submit(contextvars.copy_context().run, summarize, task) for task in requests}
        replies = {task: future.result() for task, future in asked.items()}
    summaries, calls = {}, {}
    for task, (reply, call) in replies.items():
        summaries[task] = reply.text
        calls.update(call)
        write_text(context_dir / f"{task}-summary.md", reply.text)
    return {"summaries": summaries, "llm_calls": calls}
