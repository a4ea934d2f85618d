"""Where the graph goes after each deciding node. Pure functions of the state.

The nodes record facts (a build failed, the correction budget is spent, the comparator's decision);
these functions only map those facts onto edges.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END

from graph.state import SOURCE, State


def _status(state: State) -> str:
    return state["candidates"][state["current"]]["status"]


def after_build(state: State) -> Literal["executor", "coder", "comparator"]:
    """Built: run it. Build error with budget left: fix it. Budget spent: the comparator discards it."""
    return {"built": "executor", "build_failed": "coder"}.get(_status(state), "comparator")


def after_run(state: State) -> Literal["judge", "coder", "comparator"]:
    """Ran: judge it (the source needs no judge). Run error: fix it. Budget spent: discard."""
    status = _status(state)
    if status == "ran":
        return "comparator" if state["current"] == SOURCE else "judge"
    return "coder" if status == "run_failed" else "comparator"


def after_compare(state: State) -> Literal["coder", "summarizer", "planner", "reporter", "__end__"]:
    """Follow the comparator's decision."""
    return {"zero_shot": "coder", "retry": "coder", "context": "summarizer", "new_plan": "planner",
            "report": "reporter", "done": END}[state["next_step"]]
