"""`judge`: decide whether a candidate that ran is a faithful replacement for the source.

Deterministic checks come first and cannot be argued with; the model is asked only when they pass,
and its answer must end in a VERDICT line, or the candidate is invalid.
"""

from __future__ import annotations

import re

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import State
from nodes.common import ask, current, describe_measurement, judge_tag, read_code, read_stdout, source
from tools.outputs import compare_outputs

_VERDICT = re.compile(r"^[\s>*_`#]*VERDICT[\s*_`]*:[\s*_`]*(VALID|INVALID)\b", re.I | re.M)


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    cand, src = current(state), source(state)
    run = cand["run"]
    checks = [{"name": "runs", "ok": True,
               "reason": f"built, exited 0 after {run['seconds']:.3g} s (limit {run['time_limit_s']:g} s)"}]
    output = compare_outputs(read_stdout(src), read_stdout(cand), rtol=ctx.rtol, atol=ctx.atol)
    checks.append({"name": "output", "ok": output.same, "reason": output.reason})
    update: dict = {}
    if output.same:
        tag = judge_tag()
        reply, update["llm_calls"] = ask(
            state, ctx, "judge", "judge", 0.0, about={"candidate": cand["key"]}, tag=tag,
            checks="; ".join(f"{c['name']}: {c['reason']}" for c in checks),
            source_code=read_code(src), source_output=read_stdout(src), source_measurement=describe_measurement(src),
            candidate_code=read_code(cand), candidate_output=read_stdout(cand),
            candidate_measurement=describe_measurement(cand))
        checks.append({"name": "judge", **parse_verdict(reply.text)})
    else:
        checks.append({"name": "judge", "ok": None, "reason": "not asked: a deterministic check failed"})
    valid = all(c["ok"] is not False for c in checks) and checks[-1]["ok"] is True
    record = {**cand, "status": "judged", "validation": {"valid": valid, "checks": checks}}
    return {**update, "candidates": {cand["key"]: record}}


def parse_verdict(answer: str) -> dict:
    """{'ok': True/False, 'reason': ...} from the judge's answer; no VERDICT line means INVALID."""
    verdicts = _VERDICT.findall(answer)
    if not verdicts:
        return {"ok": False, "reason": "the judge's answer had no VERDICT line, so it counts as INVALID"}
    body = _VERDICT.split(answer)[0].strip().splitlines()
    summary = " ".join(body[-3:])[:400] if body else ""
    ok = verdicts[-1].upper() == "VALID"
    return {"ok": ok, "reason": f"{'VALID' if ok else 'INVALID'}: {summary}".strip()}
