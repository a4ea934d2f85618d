"""`planner`: a refactoring plan for the best code so far, from the summaries and its measurement."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import State
from nodes.common import ask, best, describe_measurement, program, read_code, run_dir
from tools.rundir import write_text


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    prog = program(state)
    target = best(state)
    summaries = state["summaries"]
    number = state.get("plans", 0) + 1
    reply, calls = ask(state, ctx, "planner", "plan", ctx.temperature_start,
                       about={"plan": number, "for_candidate": target["key"]},
                       knowledge_summary=summaries["knowledge"], system_summary=summaries["system"],
                       code_summary=summaries["code"], code=read_code(target), main=prog.main,
                       measurement=describe_measurement(target))
    path = run_dir(state).path / "plans" / f"plan-{number:02d}.md"
    write_text(path, f"# Plan {number} (for v{target['version']:03d})\n\n{reply.text}\n")
    plan = {"number": number, "text": reply.text, "for_version": target["key"], "path": str(path)}
    return {"plan": plan, "plans": number, "coder_mode": "step", "llm_calls": calls}
