"""The specification, as tests: unit/ for one module or node, e2e/ for whole runs through the graph,
the CLI, the bench, the notebooks or Studio; helpers/ holds what tests import, conftest.py the fixtures.
"""
