"""Progress while a run goes: plain step lines in logs and pipes, and a status line redrawn in place in a terminal."""

from __future__ import annotations

import io
import re
import time

import pytest

from app.progress import Progress

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # anything but a newline
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def measured(version: int, origin: str, runtime: float, ci: float, **extra) -> dict:
    return {"version": version, "key": f"{version:03d}", "origin": origin, "status": "ran", "reason": "",
            "temperature": 0.4, "measurement": {"objective": "duration_s", "method": "time", "repeats": 5,
                                                "stats": {"duration_s": {"mean": runtime, "ci95": ci}}}, **extra}


def states() -> list[tuple[str, dict, dict]]:
    """A fix of v002 written (the second correction), then v002 measured: (node, update, state after it)."""
    candidates = {"000": measured(0, "source", 0.5, 0.01), "001": measured(1, "zero-shot", 0.4, 0.008),
                  "002": {"version": 2, "key": "002", "origin": "fix", "status": "generated", "reason": "",
                          "temperature": 0.4}}
    base = {"stage": "refine", "best": "001", "current": "002", "corrections": 2, "candidates": candidates,
            "next_step": "retry", "temperature": 0.4}
    written = ("coder", {"corrections": 2}, base)
    ran = {**base, "candidates": {**candidates, "002": measured(2, "fix", 0.45, 0.009)}}
    return [written, ("executor", {}, ran)]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(output: str) -> list[str]:
    """What a terminal shows after `output`: carriage returns, erase-line and newlines applied, colour dropped."""
    lines, column = [""], 0
    for token in re.findall(r"\x1b\[K|\r|\n|[^\r\n\x1b]+", COLOUR.sub("", output)):
        if token == "\r":
            column = 0
        elif token == "\n":
            lines.append("")
            column = 0
        elif token == "\x1b[K":
            lines[-1] = lines[-1][:column]
        else:
            lines[-1] = lines[-1][:column] + token + lines[-1][column + len(token):]
            column += len(token)
    return lines


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def terminal_env(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NO_COLOR", raising=False)


def run_steps(stream, clock: Clock, **options) -> None:
    with Progress(stream, corrections_budget=5, clock=clock, refresh_s=3600, **options) as progress:
        for node, update, state in states():
            clock.now += 30
            progress(node, update, state)


def test_plain_output_is_one_line_per_step_with_the_fix_count_measurement_and_best_so_far(terminal_env):
    out = io.StringIO()
    run_steps(out, Clock())
    text = out.getvalue()
    assert not CONTROL.search(text) and not COLOUR.search(text)
    fix, run = text.splitlines()
    assert fix.startswith("[   30.0s] coder ") and "v002 fix (correction 2 of 5): written at temperature 0.4" in fix
    assert run.startswith("[   60.0s] executor ") and "v002 fix: runtime 0.45 s ± 0.009 (5 runs" in run


def test_the_comparator_line_gives_the_best_so_far_against_the_source():
    node, update, state = states()[1]
    out = io.StringIO()
    Progress(out)("comparator", update, {**state, "candidates": {**state["candidates"], "002": {
        **state["candidates"]["002"], "outcome": "not_better"}}})
    assert "v002 fix: not_better; best v001 runtime 0.4 s ± 0.008 (-20.0% vs source); next: retry" in out.getvalue()


def test_a_terminal_gets_the_step_lines_and_beneath_them_a_status_line_redrawn_in_place(terminal_env):
    term, clock = Terminal(), Clock()
    with Progress(term, corrections_budget=5, clock=clock, refresh_s=3600) as progress:
        for node, update, state in states():
            clock.now += 30
            progress(node, update, state)
        shown = screen(term.getvalue())
        assert len(shown) == 3 and shown[0].startswith("[   30.0s] coder") and shown[1].startswith("[   60.0s] executor")
        assert shown[2] == ("0:01:00 | Stage 2-3 refinement | v002 fix | correction 2 of 5 | last v002 runtime 0.45 s"
                            " ± 0.009 | best v001 runtime 0.4 s ± 0.008 (-20.0% vs source)")
        assert term.getvalue().count("\r\x1b[K") >= 3 and "\x1b[1m" in term.getvalue()
    assert screen(term.getvalue())[-1] == ""  # cleared at the end, so what is printed next starts clean


def test_the_status_line_keeps_the_elapsed_time_current_between_steps(terminal_env):
    term, clock = Terminal(), Clock()
    with Progress(term, clock=clock, refresh_s=0.01) as progress:
        progress(*states()[0])
        clock.now += 75
        deadline = time.monotonic() + 10
        while "0:01:15" not in screen(term.getvalue())[-1]:
            assert time.monotonic() < deadline, screen(term.getvalue())
            time.sleep(0.01)


def test_a_narrow_terminal_gets_the_status_parts_that_fit_on_one_line(terminal_env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "50")
    term = Terminal()
    run_steps(term, Clock())
    drawn = [COLOUR.sub("", part) for part in term.getvalue().split("\r\x1b[K") if part and "\n" not in part]
    assert drawn and all(len(status) <= 49 for status in drawn)
    assert drawn[-1] == "0:01:00 | Stage 2-3 refinement | v002 fix"


def test_no_color_drops_the_emphasis_but_keeps_the_live_line(terminal_env, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    term = Terminal()
    run_steps(term, Clock())
    assert "\r\x1b[K" in term.getvalue() and not COLOUR.search(term.getvalue())


@pytest.mark.parametrize("how", ["dumb terminal", "no with-block"])
def test_a_dumb_terminal_or_a_listener_used_without_with_gets_plain_lines(how, terminal_env, monkeypatch):
    term, clock = Terminal(), Clock()
    if how == "dumb terminal":
        monkeypatch.setenv("TERM", "dumb")
        run_steps(term, clock)
    else:
        progress = Progress(term, corrections_budget=5, clock=clock)
        for step in states():
            progress(*step)
    assert not CONTROL.search(term.getvalue()) and len(term.getvalue().splitlines()) == 2
