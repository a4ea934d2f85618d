"""`summarizer`: Stage 2 context — knowledge, machine and code summaries, asked concurrently."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import State
from knowledge import load_notes
from nodes.common import LANGUAGE_NAMES, ask, program, read_code, run_dir, source
from tools.gpu import find_gpu
from tools.rundir import write_text
from tools.sysinfo import describe_machine


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    prog = program(state)
    notes = load_notes(prog.language)
    gpu_uuid = find_gpu(ctx.gpu).uuid if prog.language == "cuda" else None
    machine = describe_machine(prog.language, gpu_uuid)
    context_dir = run_dir(state).context
    write_text(context_dir / "machine.txt", machine)
    language = LANGUAGE_NAMES[prog.language]
    requests = {
        "knowledge": ("summarize_knowledge", {"language_name": language, "knowledge": notes}),
        "system": ("summarize_system", {"system": machine}),
        "code": ("summarize_code", {"knowledge": notes, "code": read_code(source(state)), "main": prog.main}),
    }

    def summarize(task: str):
        prompt, values = requests[task]
        return ask(state, ctx, "summarizer", prompt, ctx.temperature_start, task=task, **values)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        replies = dict(zip(requests, pool.map(summarize, requests)))
    summaries, calls = {}, {}
    for task, (reply, call) in replies.items():
        summaries[task] = reply.text
        calls.update(call)
        write_text(context_dir / f"{task}-summary.md", reply.text)
    return {"summaries": summaries, "llm_calls": calls}
