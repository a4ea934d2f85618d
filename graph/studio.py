"""The graph for `langgraph dev` (see langgraph.json): compiled without a checkpointer, as the dev
server brings its own.

The server shows a client the message of built-in errors alone (others read "An internal error
occurred"), and it starts runs itself, without the checks the CLI makes first. So each node runs
inside `_studio_node`: a run's first step checks it as the CLI does (settings, program, compiler,
GPU, models and keys, documents) before anything is measured, and a problem the user can fix reaches
the client as a `RunRefused` (a ValueError) carrying the same one line the CLI prints, settings named
as the configuration form names them.
"""

from __future__ import annotations

from graph.builder import Node, build_graph
from graph.context import make_context
from graph.preflight import check_run
from graph.state import State
from tools.errors import LassiError


class RunRefused(ValueError):
    """A user's mistake, in the words the server passes on to the client."""


def _studio_node(name: str, node: Node) -> Node:
    def run(state: State, runtime) -> dict:
        try:
            if name == "compiler" and not state.get("candidates"):  # the run's first step
                check_run(state["program"], state.get("main"), make_context(**runtime.context.to_dict()))
            return node(state, runtime)
        except LassiError as exc:
            raise RunRefused(str(exc)) from None

    run.__name__ = name
    return run


graph = build_graph(wrap=_studio_node)
