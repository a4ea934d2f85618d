"""Tests that run the graph, the CLI, the bench, the notebooks or Studio end to end.
"""
