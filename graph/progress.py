"""One line per step, for people watching a run in a terminal or reading a log."""

from __future__ import annotations

import time

from nodes.common import describe_measurement


class Progress:
    def __init__(self, write=print):
        self.write, self.started = write, time.monotonic()

    def __call__(self, node: str, update: dict, state: dict) -> None:
        line = describe_step(node, update, state)
        if line:
            self.write(f"[{time.monotonic() - self.started:7.1f}s] {node:<10} {line}", flush=True)


def describe_step(node: str, update: dict, state: dict) -> str:
    cand = state["candidates"].get(state.get("current") or "", {})
    name = f"v{cand.get('version', 0):03d} {cand.get('origin', '')}"
    if node == "compiler":
        return f"{name}: {'built' if cand['build']['ok'] else 'build failed'}" + _reason(cand)
    if node == "executor":
        if cand["status"] == "ran":
            return f"{name}: {describe_measurement(cand)}"
        return f"{name}: run failed" + _reason(cand)
    if node == "coder":
        return f"{name}: written at temperature {_temperature(cand)}" + (f" — {cand['reason']}" if cand["reason"] else "")
    if node == "judge":
        validation = cand["validation"]
        failed = [c for c in validation["checks"] if c["ok"] is False]
        return f"{name}: {'valid' if validation['valid'] else 'INVALID — ' + failed[0]['reason'][:160]}"
    if node == "comparator":
        best = state["candidates"][state["best"]]
        head = f"{name}: {cand.get('outcome')}"
        tail = f"; best v{best['version']:03d}; next: {state['next_step']}"
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


def _reason(cand: dict) -> str:
    return f" — {cand['reason'][:200]}" if cand.get("reason") else ""


def _temperature(cand: dict) -> str:
    return "default (the model takes none)" if cand.get("temperature") is None else f"{cand['temperature']:g}"
