"""Plain Python that touches the machine, in rooms of its own; nothing here imports LangGraph, the
graph, its nodes or its faces, so every tool can be used from a notebook or another program.

    build       compilers and build commands          sandbox/  isolation, resource caps, the runner
    energy/     meters, repeated measurement, the     llm/      model names, clients, the scripted
                one table of metrics and units                  model, replies and their code blocks
    report/     the document model, Markdown, HTML,   workload  CUPTI counts of GPU work
                run and suite reports, plots
    outputs, program, rundir, cache, gpu, sysinfo, errors: one job each, named by the module

Messages a user can act on are LassiErrors that name a setting as `{setting}`; tools never spell
a face's flags.
"""
