"""The graph, top to bottom.

    compiler → executor → judge → comparator ─┬→ coder (zero-shot, or same plan at a higher temperature)
        ↑          │                          ├→ summarizer → planner → coder   (Stage 2; new best → planner)
        └─ coder ←─┘ (fix: build or run error)└→ reporter → END                 (ceiling or budget reached)

Stage 0 sends the untouched source through the same compiler and executor.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.types import Checkpointer

from graph.context import Context
from graph.routing import after_build, after_compare, after_run
from graph.state import Input, State
from nodes import coder, comparator, compiler, executor, judge, planner, reporter, summarizer

NODES = ("compiler", "executor", "coder", "judge", "comparator", "summarizer", "planner", "reporter")


def build_graph(checkpointer: Checkpointer = None, **compile_options):
    """The compiled graph. The CLI and API pass a SQLite checkpointer; Studio passes none."""
    g = StateGraph(State, context_schema=Context, input_schema=Input)
    g.add_node("compiler", compiler.node)
    g.add_node("executor", executor.node)
    g.add_node("coder", coder.node)
    g.add_node("judge", judge.node)
    g.add_node("comparator", comparator.node)
    g.add_node("summarizer", summarizer.node)
    g.add_node("planner", planner.node)
    g.add_node("reporter", reporter.node)

    g.add_edge(START, "compiler")
    g.add_conditional_edges("compiler", after_build)
    g.add_conditional_edges("executor", after_run)
    g.add_edge("coder", "compiler")
    g.add_edge("judge", "comparator")
    g.add_conditional_edges("comparator", after_compare)
    g.add_edge("summarizer", "planner")
    g.add_edge("planner", "coder")
    g.add_edge("reporter", END)
    return g.compile(checkpointer=checkpointer, name="lassi-ee", **compile_options)
