"""One module per graph node; each exposes `node(state, runtime) -> state update`.

Nodes read the state through graph.state's accessors, call tools or a model, and return an update.
They keep no global state and do no routing: graph/routing.py decides where the graph goes next.
What several nodes need (model calls, containment, a candidate's GPU work) is in nodes/shared/.
"""
