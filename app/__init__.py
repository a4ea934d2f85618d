"""The ways in: the Python API, the `lassi-ee` CLI, suites and the bench, the progress display.

Faces import the graph core (graph/) and tools/, never nodes/; they put the tools' messages in their
own words (a setting is `--max-iterations` on the command line, `max-iterations` in a suite).
"""
