"""The ways in: the Python API (api), the `lassi-ee` CLI (cli), suite files (suite) and the bench that
runs them (bench), and the progress display (progress).

Faces import the graph core (graph/) and tools/, never nodes/. Each spells a setting its own way (the
CLI as `--max-iterations`, a suite file and Python as `max-iterations` and `max_iterations`) from
the one declaration in graph/context.py; a LassiError reaches the user as its one line.
"""
