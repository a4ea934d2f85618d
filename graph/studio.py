"""The graph for `langgraph dev` (see langgraph.json): compiled without a checkpointer, as the
dev server brings its own."""

from graph.builder import build_graph

graph = build_graph()
