"""The graph's contract: eight named nodes and visible loops back to the coder and the planner."""

from graph.builder import NODES, build_graph
from graph.studio import graph as studio_graph


def test_the_graph_has_the_eight_nodes():
    nodes = set(build_graph().get_graph().nodes) - {"__start__", "__end__"}
    assert nodes == set(NODES) == {"compiler", "executor", "coder", "judge", "comparator", "summarizer", "planner",
                                   "reporter"}


def test_the_drawing_shows_the_correction_and_refinement_loops():
    drawing = build_graph().get_graph().draw_mermaid()
    for edge in ("compiler -.-> coder", "executor -.-> coder", "coder --> compiler",  # self-correction
                 "comparator -.-> coder", "comparator -.-> planner", "planner --> coder",  # refinement
                 "comparator -.-> summarizer", "comparator -.-> reporter", "reporter --> __end__"):
        assert edge in drawing, edge


def test_the_studio_graph_brings_no_checkpointer():
    assert studio_graph.checkpointer is None
