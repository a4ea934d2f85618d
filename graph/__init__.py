"""The graph core: state and its candidate records, context (every setting, declared once), the run
record, routing, the builder, and the graph exported for `langgraph dev`. The faces live in app/."""
