"""The graph, top to bottom.

    compiler → executor → judge → comparator ─┬→ coder (zero-shot, or same plan at a higher temperature)
        ↑          │                          ├→ summarizer → planner → coder   (Stage 2; new best → planner)
        └─ coder ←─┘ (fix: build or run error)└→ reporter → END                 (ceiling or budget reached)

Stage 0 sends the untouched source through the same compiler and executor.
"""

from __future__ import annotations

from collections.abc import Callable

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer

from graph.context import Context
from graph.routing import after_build, after_compare, after_run
from graph.state import Input, State
from nodes import coder, comparator, compiler, executor, judge, planner, reporter, summarizer

NODES = ("compiler", "executor", "coder", "judge", "comparator", "summarizer", "planner", "reporter")
Node = Callable[[State, Runtime[Context]], dict]
Wrapper = Callable[[str, Node], Node]


def build_graph(checkpointer: Checkpointer = None, *, wrap: Wrapper | None = None, **compile_options):
    """The compiled graph. The CLI and API pass a SQLite checkpointer; Studio passes none.

    `wrap(name, node)` may put each node inside a function of the caller's (Studio's export does, to
    check a run before its first step and to hand errors to the server in the words the CLI uses).
    """
    g = StateGraph(State, context_schema=Context, input_schema=Input)
    for name, node in (("compiler", compiler.node), ("executor", executor.node), ("coder", coder.node),
                       ("judge", judge.node), ("comparator", comparator.node), ("summarizer", summarizer.node),
                       ("planner", planner.node), ("reporter", reporter.node)):
        g.add_node(name, wrap(name, node) if wrap else node)

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
