"""`planner`: a refactoring plan for the best code so far, from the summaries and its measurement."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import SOURCE, State, best, label, program, run_dir
from nodes.executor import SOURCE_TIME_LIMIT_S
from nodes.shared.containment import gpu_env, run_sandbox
from nodes.shared.gpu_work import describe_gpu_work, with_source_workload, work_args
from nodes.shared.models import ask
from nodes.shared.witness import working_files
from tools.energy.metrics import describe_measurement
from tools.llm.files import listing
from tools.rundir import write_text


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    prog = program(state)
    target = best(state)
    update: dict = {}
    if target["key"] == SOURCE and "workload" not in target:  # no candidate was judged yet: count it now
        target = with_source_workload(state, target, gpu_env(state["language"], ctx), ctx.time_limit or SOURCE_TIME_LIMIT_S,
                                      run_sandbox(state, ctx), work_args(state, ctx.work_args))
        update["candidates"] = {SOURCE: target}
    summaries = state["summaries"]
    number = state.get("plans", 0) + 1
    reply, calls = ask(state, ctx, "planner", "plan", ctx.temperature_start,
                       about={"plan": number, "for_candidate": target["key"]},
                       knowledge_summary=summaries["knowledge"], system_summary=summaries["system"],
                       code_summary=summaries["code"], code=listing(working_files(state, target)), main=prog.main,
                       measurement=describe_measurement(target.get("measurement")), gpu_work=describe_gpu_work(target))
    path = run_dir(state).path / "plans" / f"plan-{number:02d}.md"
    write_text(path, f"# Plan {number} (for {label(target)})\n\n{reply.text}\n")
    plan = {"number": number, "text": reply.text, "for_version": target["key"], "path": run_dir(state).relative(path)}
    return {**update, "plan": plan, "plans": number, "coder_mode": "step", "llm_calls": calls}
