"""The LangGraph application: state, context, routing, the graph, and the faces (API, CLI, Studio)."""
