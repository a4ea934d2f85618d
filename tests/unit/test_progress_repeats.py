"""The repeat being measured: on the status line in a terminal, a plain line of its own elsewhere."""

from __future__ import annotations

import io

import pytest

from app.progress import Progress
from tests.unit.test_measurement import ScriptedMeter
from tests.unit.test_progress import Clock, Terminal, screen, states
from tools.energy.measurement import RepeatPolicy, measure


def repeats_of_v002(progress: Progress, clock: Clock) -> None:
    """v002's fix written, two of its repeats under way, then its measurement."""
    written, ran = states()
    progress(*written)
    for k in (1, 2):
        clock.now += 5
        progress("measure", {"measuring": f"v002 fix: repeat {k} of at most 10"}, written[2])
    clock.now += 5
    progress(*ran)


@pytest.fixture(autouse=True)
def wide_colour_terminal(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_without_a_terminal_each_repeat_is_a_plain_line():
    out, clock = io.StringIO(), Clock()
    with Progress(out, corrections_budget=5, clock=clock, refresh_s=3600) as progress:
        repeats_of_v002(progress, clock)
    lines = out.getvalue().splitlines()
    assert lines[1:3] == ["[    5.0s] measure    v002 fix: repeat 1 of at most 10",
                          "[   10.0s] measure    v002 fix: repeat 2 of at most 10"]
    assert lines[3].startswith("[   15.0s] executor   v002 fix: ") and len(lines) == 4


def test_in_a_terminal_the_repeat_is_on_the_status_line_and_gone_once_measured():
    term, clock = Terminal(), Clock()
    with Progress(term, corrections_budget=5, clock=clock, refresh_s=3600) as progress:
        written, ran = states()
        progress(*written)
        progress("measure", {"measuring": "v002 fix: repeat 2 of at most 10"}, written[2])
        during = screen(term.getvalue())
        progress(*ran)
        after = screen(term.getvalue())
    assert "measure" not in "\n".join(during[:-1]), "a repeat is not a step line in a terminal"
    assert "| v002 fix | repeat 2 of at most 10 | correction 2 of 5 |" in during[-1]
    assert "repeat" not in after[-1]


def test_a_listener_hears_of_every_repeat_as_it_starts_and_of_how_many_there_can_be():
    heard: list[int] = []
    policy = RepeatPolicy(min_repeats=3, max_repeats=3)
    meter = ScriptedMeter([10.0, 11.0, 12.0])
    _, measured = measure(meter, meter.run, policy, on_repeat=heard.append)
    assert heard == [1, 2, 3] and len(measured.readings) == 3
    assert [policy.describe_repeat(k) for k in heard] == ["repeat 1 of 3", "repeat 2 of 3", "repeat 3 of 3"]
    assert RepeatPolicy(min_repeats=3, max_repeats=10).describe_repeat(4) == "repeat 4 of at most 10"
