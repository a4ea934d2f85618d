"""The graph core: state (the typed Candidate record and its accessors), context (every setting,
declared once), preflight (what must hold before a run starts, for every face), the run record
(run.json, thread id), routing, the builder, and the graph exported for `langgraph dev` (studio).

Nodes and faces both import it; it never imports app/, and only the builder knows nodes/.
"""
