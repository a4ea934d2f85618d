"""Plain-Python tools that touch the machine: build, run, measure, compare, talk to models.

Nothing here imports LangGraph, so every tool can be used from a notebook or another program.
"""
