"""A run tells its listener of each repeat the executor measures, between the steps it belongs to."""

from __future__ import annotations

from app.api import profile


def test_the_executor_says_which_repeat_of_how_many_it_is_measuring(program, settings):
    heard: list[tuple[str, str]] = []
    profile(program, ["100"], on_step=lambda node, update, state: heard.append((node, update.get("measuring", ""))),
            **settings(None, min_repeats=2, max_repeats=2))
    assert heard == [("compiler", ""), ("measure", "v000 source: repeat 1 of 2"),
                     ("measure", "v000 source: repeat 2 of 2"), ("executor", ""), ("comparator", "")]
