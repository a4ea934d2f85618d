"""Progress of a run: one plain line per step, and in a terminal a status line kept up to date beneath them.

    with Progress(corrections_budget=5) as progress:
        optimize(program, on_step=progress)

Each step's line names the candidate, what happened to it, its measurement, the fixes spent and the best so
far. In a terminal (and only inside `with`, which clears it at the end) a status line under the step lines
shows the stage, the candidate, the repeat being measured, the fix being tried, the last measurement, the
best so far against the source and the elapsed time, redrawn in place every second. Elsewhere (pipes, CI
logs, notebooks, TERM=dumb) the output is the step lines alone, with no control characters, and each repeat
measured is a line of its own.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from graph.state import SOURCE, label
from tools.energy.metrics import describe_measurement, with_interval
from tools.energy.metrics import metric as metric_named
from tools.witness import describe_witness

STAGES = {"profile": "Stage 0 profile", "zero_shot": "Stage 1 zero-shot", "refine": "Stage 2-3 refinement",
          "done": "Stage 4 report"}
CLEAR_LINE = "\r\x1b[K"  # back to the line's start and erase it: no cursor movement beyond the line


class Progress:
    """A step listener for app.api: (node, its update, the state after it)."""

    def __init__(self, stream: TextIO | None = None, *, corrections_budget: int | None = None,
                 clock: Callable[[], float] = time.monotonic, refresh_s: float = 1.0):
        self.stream = stream or sys.stdout
        self.budget, self.clock, self.refresh_s = corrections_budget, clock, refresh_s
        self.started = clock()
        self.state: dict = {}
        self.measuring = ""  # the repeat being measured, until the next step
        self.waiting = ""  # a model call waiting to be tried again, until the next step
        self.live = False  # a status line is drawn only between __enter__ and __exit__, in a terminal
        self.drawn = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ticker: threading.Thread | None = None

    def __enter__(self) -> Progress:
        self.live = is_terminal(self.stream)
        if self.live:
            self.ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self.ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join()
        with self.lock:
            self._clear()
            self.live = False
            self.stream.flush()

    def __call__(self, node: str, update: dict, state: dict) -> None:
        line = describe_step(node, update, state, self.budget)
        with self.lock:
            self.state = state or self.state
            self.measuring = update["measuring"] if node == "measure" else ""
            self.waiting = update.get("waiting", "") if node == "model" else ""
            self._clear()
            if line and not (node == "measure" and self.live):  # a terminal shows the repeat on the status line
                self.stream.write(f"[{self.clock() - self.started:7.1f}s] {node:<10} {line}\n")
            self._draw()
            self.stream.flush()

    def _tick(self) -> None:
        while not self.stop.wait(self.refresh_s):
            with self.lock:
                self._draw()
                self.stream.flush()

    def _draw(self) -> None:
        if not self.live:
            return
        width = shutil.get_terminal_size().columns - 1  # the last column would wrap on some terminals
        text = fit(status_line(self.state, self.budget, self.clock() - self.started, self.waiting, self.measuring),
                   width)
        if not os.environ.get("NO_COLOR"):  # no-color.org: set and not empty turns colour off
            text = f"\x1b[1m{text}\x1b[0m"
        self.stream.write(CLEAR_LINE + text)
        self.drawn = True

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write(CLEAR_LINE)
            self.drawn = False


def is_terminal(stream: TextIO) -> bool:
    """A terminal that understands a carriage return and an erase-line sequence."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM", "") != "dumb"


def status_line(state: dict, budget: int | None, elapsed_s: float, waiting: str = "", measuring: str = "") -> list[str]:
    """The status line's parts, most important first (a narrow terminal shows a prefix of them).

    `measuring` is the executor's word on the run under way: `v001 zero-shot: repeat 2 of at most 10`.
    """
    minutes, seconds = divmod(int(elapsed_s), 60)
    parts = [f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"]
    if waiting:
        parts.append(waiting.split(":")[0])  # "waiting for coder (attempt 2 of 6, retry in 7 s)"
    if not state:
        return parts + ["starting"]
    parts.append(STAGES.get(state.get("stage", ""), state.get("stage", "")))
    cand = state.get("candidates", {}).get(state.get("current") or "")
    if cand:
        parts.append(f"{label(cand)} {cand['origin']}")
    if measuring:
        parts.append(measuring.rpartition(": ")[2])
    if state.get("corrections"):
        parts.append(_fixes(state["corrections"], budget))
    if last := _last_measured(state):
        parts.append(f"last {label(last)} {_objective(last)}")
    if best := describe_best(state):
        parts.append(best)
    return parts


def fit(parts: list[str], width: int) -> str:
    """As many whole parts as fit in `width` columns; the first one cut short if even it does not."""
    text = parts[0]
    for part in parts[1:]:
        if len(text) + 3 + len(part) > width:
            break
        text += " | " + part
    return text[:max(width, 1)]


def describe_step(node: str, update: dict, state: dict, budget: int | None = None) -> str:
    if node == "measure":
        return update["measuring"]
    if node == "model":
        return update["waiting"]
    cand = state["candidates"].get(state.get("current") or "", {})
    name = f"{label(cand.get('version', 0))} {cand.get('origin', '')}"
    if node == "compiler":
        return f"{name}: {'built' if cand['build']['ok'] else 'build failed'}" + _reason(cand)
    if node == "executor":
        if cand["status"] == "ran":
            notice = (cand.get("run") or {}).get("notice")
            return (f"{name}: {describe_measurement(cand['measurement']) if cand.get('measurement') else cand['reason']}"
                    + (f"\n  note: {notice}" if notice else ""))
        return f"{name}: run failed" + _reason(cand)
    if node == "coder":
        said = f"{describe_witness(update['witness'])}\n" if update.get("witness") else ""  # once: made once
        fixing = f" ({_fixes(state.get('corrections', 0), budget)})" if cand.get("origin") == "fix" else ""
        form = (cand.get("answer") or {}).get("form")
        return (f"{said}{name}{fixing}: written at temperature {_temperature(cand)}" + (f" as {form}" if form else "")
                + (f" — {cand['reason']}" if cand["reason"] else ""))
    if node == "judge":
        validation = cand["validation"]
        failed = [c for c in validation["checks"] if c["ok"] is False]
        if validation["valid"]:
            return f"{name}: valid"
        if failed:
            return f"{name}: INVALID — {failed[0]['reason'][:160]}"
        return f"{name}: not valid — {validation.get('why_not', 'no conclusive evidence')[:160]}"
    if node == "comparator":
        head = f"{name}: {cand.get('outcome')}"
        tail = f"; {describe_best(state)}; next: {state['next_step']}"
        if state["next_step"] in ("retry", "report") and cand["origin"] != "source":
            tail += f" (temperature {state['temperature']:g})"
        return head + tail
    if node == "summarizer":
        return "knowledge, machine and code summaries ready"
    if node == "planner":
        return f"plan {state['plan']['number']} written for v{state['plan']['for_version']}"
    if node == "reporter":
        return f"report written: {state['report']}"
    return ""


def describe_best(state: dict) -> str:
    """`best v003 net GPU energy 81.2 J ± 0.9 (-12.4% vs source)`, or "" before the source is measured."""
    candidates = state.get("candidates", {})
    best, source = candidates.get(state.get("best") or ""), candidates.get(SOURCE)
    if not best or not (source or {}).get("measurement"):
        return ""
    text = f"best {label(best)} {_objective(best)}"
    if state["best"] != SOURCE:
        metric = source["measurement"]["objective"]
        before, after = source["measurement"]["stats"][metric]["mean"], best["measurement"]["stats"][metric]["mean"]
        text += f" ({(after - before) / before:+.1%} vs source)" if before else ""
    return text


def _objective(cand: dict) -> str:
    """The figure candidates are compared on, with its 95% interval: `runtime 0.96 s ± 0.017`."""
    measurement = cand["measurement"]
    metric = measurement["objective"]
    shown = metric_named(metric)
    return f"{shown.label} {with_interval(measurement['stats'][metric], shown.unit)}"


def _last_measured(state: dict) -> dict | None:
    measured = [c for c in state.get("candidates", {}).values() if c.get("measurement")]
    return max(measured, key=lambda c: c["version"], default=None)


def _fixes(spent: int, budget: int | None) -> str:
    return f"correction {spent} of {budget}" if budget is not None else f"correction {spent}"


def _reason(cand: dict) -> str:
    return f" — {cand['reason'][:200]}" if cand.get("reason") else ""


def _temperature(cand: dict) -> str:
    return "default (the model takes none)" if cand.get("temperature") is None else f"{cand['temperature']:g}"
