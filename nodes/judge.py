"""`judge`: decide whether a candidate that ran is a faithful replacement for the source.

Layers, cheapest first, each leaving its verdict and reason in the candidate's `validation.checks`:

  runs        built and exited 0 within its time limit (the compiler and executor saw to that)
  output      its stdout says what the source's says (tools/outputs.py)
  check-args  the same holds on every extra argument set the user gave (--check-args)
  workload    CUPTI's counts of kernels and copies against the source's: fewer kernel launches or
              threads is flagged for the judge and the report, and rejected with --strict-workload
  judge       the model, shown both programs as untrusted data, both outputs, both measurements and
              the workload evidence, asked for a JSON verdict where the server takes a schema; a text
              answer's last VERDICT line decides, and an answer with none, or with both, is INVALID

A layer runs only when none before it failed, so the model is never asked to overrule a fact. The
source's own reference runs (its outputs on the extra argument sets, its workload) are made once, at
the first candidate judged, and kept on its record. Every extra run is unmeasured and keeps its
output in the candidate's folder.
"""

from __future__ import annotations

import json
import re
import shlex
from functools import partial
from pathlib import Path

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import SOURCE, State, current, read_code, read_stdout, source
from nodes.executor import SOURCE_TIME_LIMIT_S, candidate_time_limit
from nodes.shared.containment import gpu_env, sandbox_for
from nodes.shared.gpu_work import NOT_CUDA, binary_of, count_gpu_work, with_source_workload
from nodes.shared.models import ask, judge_tag
from tools.energy.metrics import describe_measurement
from tools.errors import LassiError
from tools.outputs import DEFAULT_MASKS, compare_outputs
from tools.report.run_report import verdict_mark
from tools.rundir import write_text
from tools.sandbox import Sandbox
from tools.sandbox.runner import run_program
from tools.workload import Workload, compare_workloads, workload_table

_VERDICT_LINE = re.compile(r"^[\s>*_`#-]*VERDICT[\s*_`]*:[\s*_`]*(VALID|INVALID)\b(.*)$", re.I)
_EITHER = re.compile(r"\b(VALID|INVALID)\b", re.I)
VERDICT_SCHEMA = {"name": "verdict", "strict": True,
                  "schema": {"type": "object", "additionalProperties": False, "required": ["reasons", "verdict"],
                             "properties": {"reasons": {"type": "string"},
                                            "verdict": {"type": "string", "enum": ["VALID", "INVALID"]}}}}


def node(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    cand, src = current(state), source(state)
    compare = partial(compare_outputs, rtol=ctx.rtol, atol=ctx.atol, masks=(*DEFAULT_MASKS, *ctx.output_masks))
    env, sandbox = gpu_env(state["language"], ctx), sandbox_for(ctx, state["language"])
    run = cand["run"]
    checks = [_check("runs", True, f"built, exited 0 after {run['seconds']:.3g} s (limit {run['time_limit_s']:g} s)")]
    output = compare(read_stdout(src), read_stdout(cand))
    checks.append(_check("output", output.same, output.reason))
    evidence = "not counted: an earlier check failed"
    if _passing(checks):
        src = _source_check_runs(state, ctx, src, env, sandbox)
        cand = {**cand, "check_runs": _check_runs(cand, ctx.check_args, _candidate_limits(ctx, src), env, sandbox)}
        checks.append(_compare_check_runs(src, cand, compare))
    if _passing(checks):
        src = with_source_workload(state, src, env, ctx.time_limit or SOURCE_TIME_LIMIT_S, sandbox)
        limit = _candidate_limit(ctx, src["workload"])
        counted = (count_gpu_work(cand, state.get("args", []), limit, env, sandbox) if state["language"] == "cuda"
                   else NOT_CUDA)
        cand = {**cand, "workload": counted}
        check, evidence = _workload_check(src["workload"], cand["workload"], ctx.strict_workload)
        checks.append(check)
    update: dict = {}
    if _passing(checks):
        tag = judge_tag()
        reply, update["llm_calls"] = ask(
            state, ctx, "judge", "judge", 0.0, about={"candidate": cand["key"]}, schema=VERDICT_SCHEMA, tag=tag,
            checks="\n".join(f"- {c['name']}: {verdict_mark(c)}: {c['reason']}" for c in checks), workload=evidence,
            source_code=read_code(src), source_output=read_stdout(src), source_measurement=describe_measurement(src.get("measurement")),
            candidate_code=read_code(cand), candidate_output=read_stdout(cand),
            candidate_measurement=describe_measurement(cand.get("measurement")))
        checks.append({"name": "judge", **parse_verdict(reply.text)})
    else:
        checks.append(_check("judge", None, "not asked: a check before it failed"))
    valid = _passing(checks) and checks[-1]["ok"] is True
    record = {**cand, "status": "judged", "validation": {"valid": valid, "checks": checks}}
    return {**update, "candidates": {SOURCE: src, cand["key"]: record}}


def parse_verdict(answer: str) -> dict:
    """{'ok': True/False, 'reason': ...}: a JSON verdict, or else the answer's last VERDICT line.

    Text may follow that line. A VERDICT line that names both verdicts, or lines that claim opposite
    verdicts (a judge quoting text planted in the code must not flip its own verdict), count as INVALID.
    """
    structured = _json_verdict(answer)
    if structured is not None:
        return structured
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    verdicts = [(number, m) for number, line in enumerate(lines) if (m := _VERDICT_LINE.match(line))]
    if not verdicts:
        return {"ok": False, "reason": "INVALID: the judge's answer held no VERDICT line"}
    number, last = verdicts[-1]
    if _EITHER.search(last.group(2)):
        return {"ok": False, "reason": "INVALID: the judge's final VERDICT line names both verdicts"}
    if len({m.group(1).upper() for _, m in verdicts}) > 1:
        return {"ok": False, "reason": "INVALID: the judge's answer gave both verdicts"}
    verdict = last.group(1).upper()
    summary = " ".join(" ".join(lines[:number][-3:]).split())[:400]
    return {"ok": verdict == "VALID", "reason": f"{verdict}: {summary}".strip()}


def _json_verdict(answer: str) -> dict | None:
    """The verdict of an answer in VERDICT_SCHEMA's shape; None for an answer that is not JSON."""
    text = answer.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    verdict = str(data.get("verdict", "")).strip().upper()
    if verdict not in ("VALID", "INVALID"):
        return {"ok": False, "reason": "INVALID: the judge's JSON answer held no verdict"}
    return {"ok": verdict == "VALID", "reason": f"{verdict}: {' '.join(str(data.get('reasons', '')).split())[:400]}"}


def _check(name: str, ok: bool | None, reason: str, **extra) -> dict:
    return {"name": name, "ok": ok, "reason": reason, **extra}


def _passing(checks: list[dict]) -> bool:
    return all(c["ok"] is not False for c in checks)


def _check_runs(candidate: dict, arg_sets: list[str], limits: list[float], env: dict[str, str],
                sandbox: Sandbox) -> list[dict]:
    """Run the candidate on each extra argument set; outputs go to <candidate>/check-args/<n>/."""
    binary, work = binary_of(candidate)
    runs = []
    for number, (line, limit) in enumerate(zip(arg_sets, limits), start=1):
        result = run_program([str(binary), *shlex.split(line)], work, limit, env=env, sandbox=sandbox)
        folder = Path(candidate["dir"]) / "check-args" / str(number)
        write_text(folder / "stdout.txt", result.stdout)
        write_text(folder / "stderr.txt", result.stderr)
        runs.append({"args": line, "ok": result.ok, "failure": result.failure(limit), "seconds": result.seconds,
                     "stdout_path": str(folder / "stdout.txt")})
    return runs


def _source_check_runs(state: State, ctx: Context, src: dict, env: dict[str, str], sandbox: Sandbox) -> dict:
    """The source's outputs on the extra argument sets, made once; the source must run cleanly on them."""
    if "check_runs" in src and [r["args"] for r in src["check_runs"]] == ctx.check_args:
        return src
    limit = ctx.time_limit or SOURCE_TIME_LIMIT_S
    runs = _check_runs(src, ctx.check_args, [limit] * len(ctx.check_args), env, sandbox)
    for r in runs:
        if not r["ok"]:
            raise LassiError(f"the source {r['failure']} on --check-args {r['args']!r} (output in"
                             f" {Path(r['stdout_path']).parent}): give argument sets the source itself runs with")
    return {**src, "check_runs": runs}


def _candidate_limits(ctx: Context, src: dict) -> list[float]:
    return [ctx.time_limit or candidate_time_limit(r["seconds"]) for r in src["check_runs"]]


def _compare_check_runs(src: dict, cand: dict, compare) -> dict:
    if not cand["check_runs"]:
        return _check("check-args", None, "no extra argument sets given (--check-args)")
    for theirs, mine in zip(src["check_runs"], cand["check_runs"]):
        if not mine["ok"]:
            return _check("check-args", False, f"with arguments {mine['args']!r} it {mine['failure']}")
        same = compare(Path(theirs["stdout_path"]).read_text(), Path(mine["stdout_path"]).read_text())
        if not same.same:
            return _check("check-args", False, f"with arguments {mine['args']!r}: {same.reason}")
    sets = len(cand["check_runs"])
    return _check("check-args", True, f"the output agrees on {sets} extra argument set{'s' if sets > 1 else ''}")


def _candidate_limit(ctx: Context, source_workload: dict) -> float:
    """The executor's rule for candidates, applied to the source's counting run."""
    seconds = source_workload.get("counts", {}).get("seconds")
    return ctx.time_limit or (candidate_time_limit(seconds) if seconds else SOURCE_TIME_LIMIT_S)


def _workload_check(src: dict, cand: dict, strict: bool) -> tuple[dict, str]:
    """The workload layer's check, and the evidence the judge is shown."""
    why = src.get("error") or cand.get("error")
    if why:
        ok = False if strict and why != NOT_CUDA["error"] else None
        rejected = " (rejected: --strict-workload needs the counts)" if ok is False else ""
        return _check("workload", ok, f"not counted: {why}{rejected}"), f"Not counted: {why}."
    source_work, candidate_work = Workload.from_dict(src["counts"]), Workload.from_dict(cand["counts"])
    found = compare_workloads(source_work, candidate_work)
    table = workload_table({"original": source_work, "refactored": candidate_work})
    if not found.flagged:
        return _check("workload", True, found.reason, flagged=False), f"{table}\n\nNo drop in GPU work: {found.reason}."
    evidence = f"{table}\n\nFLAGGED: the refactored program does less GPU work: {found.reason}."
    if strict:
        return _check("workload", False, f"{found.reason} (rejected: --strict-workload)", flagged=True), evidence
    return _check("workload", None, found.reason, flagged=True), evidence
