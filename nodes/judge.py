"""`judge`: decide whether a candidate that ran is a faithful replacement for the source.

Layers, cheapest first, each leaving its verdict and reason in the candidate's `validation.checks`:

  runs        built and exited 0 within its time limit (the compiler and executor saw to that)
  output      its stdout says what the source's says (tools/outputs.py)
  check-args  the same holds on every extra argument set the user gave (--check-args)
  verify      its verification build (--verify-flags, e.g. -DVERIFY) runs, reports no failure and prints
              what the source's prints
  check-cmd   the user's check command (--check-cmd) passes on its output and working folder
  witness     where the source's witness was accepted at Stage 0 (nodes/shared/witness.py): built with
              -DLASSI_WITNESS, it prints what the witness printed on the main arguments and on each of
              the witness's other argument sets: the same lines, checksums and work counts
  workload    the work it did against the source's: CUPTI's kernels and copies (CUDA), callgrind's
              instructions (C++); a drop is flagged for the judge and the report, and rejected with
              --strict-workload
  judge       the model, shown both programs as untrusted data, both outputs, both measurements and
              the workload evidence, asked for a JSON verdict where the server takes a schema; a text
              answer's last VERDICT line decides, and an answer with none, or with both, is INVALID

A layer runs only when none before it failed, so the model is never asked to overrule a fact. A layer
that agrees on too little (an output of a PASS line and timings) is inconclusive, not passed, and a
candidate is valid only when some layer gave conclusive evidence; a flagged drop in work needs a
layer that sees the results (outputs that change with the arguments) to clear it. The model is asked
only when the deterministic layers leave the candidate able to be valid. The
source's own reference runs (its outputs on the extra argument sets, its workload) are made once, at
the first candidate judged, and kept on its record. Every extra run is unmeasured and keeps its
output in the candidate's folder.
"""

from __future__ import annotations

import json
import re
import shlex

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import SOURCE, State, current, file_at, program, read_code, read_stdout, run_dir, source
from nodes.executor import SOURCE_TIME_LIMIT_S, candidate_time_limit
from nodes.shared.containment import gpu_env, run_sandbox
from nodes.shared.gpu_work import binary_of, count_work, with_source_workload, work_args
from nodes.shared.models import ask, judge_tag
from nodes.shared.user_checks import (
    check_command_run,
    output_comparison,
    source_must_pass,
    verification_run,
    verify_check,
)
from nodes.shared.witness import accepted, witness_check
from tools.cpu_work import CpuWork, compare_cpu_work, cpu_work_table
from tools.energy.metrics import describe_measurement
from tools.errors import LassiError
from tools.outputs import OutputCheck
from tools.report.run_report import verdict_mark
from tools.rundir import RunDir, read_recorded, write_recorded, write_text
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
    compare = output_comparison(ctx)
    env, sandbox = gpu_env(state["language"], ctx), run_sandbox(state, ctx)
    run = cand["run"]
    checks = [_check("runs", True, f"built, exited 0 after {run['seconds']:.3g} s (limit {run['time_limit_s']:g} s)")]
    checks.append(_output_check("output", compare(read_stdout(state, src), read_stdout(state, cand))))
    evidence = "not counted: an earlier check failed"
    if _passing(checks):
        src = _source_check_runs(state, ctx, src, env, sandbox)
        cand = {**cand, "check_runs": _check_runs(run_dir(state), cand, ctx.check_args, _candidate_limits(ctx, src),
                                                  env, sandbox)}
        checks.append(_compare_check_runs(run_dir(state), src, cand, compare))
    if _passing(checks) and ctx.verify_flags:
        src, check = _verify_layer(state, ctx, src, cand, env, sandbox, compare)
        checks.append(check)
    if _passing(checks) and ctx.check_cmd:
        src, check = _check_cmd_layer(state, ctx, src, cand, sandbox)
        checks.append(check)
    if _passing(checks) and accepted(state):
        checks.append(witness_check(state, ctx, cand, env, sandbox, compare))
    if _passing(checks):
        args = work_args(state, ctx.work_args)
        src = with_source_workload(state, src, env, _counting_limit(ctx, state, src), sandbox, args)
        limit = _counting_limit(ctx, state, src, src["workload"])
        counted = (src["workload"] if "error" in src["workload"]  # nothing to compare with: not counted either
                   else count_work(state["language"], cand, run_dir(state), args, limit, env, sandbox))
        cand = {**cand, "workload": counted}
        check, evidence = _workload_check(src["workload"], cand["workload"], ctx.strict_workload)
        checks.append(check)
    update: dict = {}
    gap = _evidence_gap(checks)
    if _passing(checks) and gap:
        checks.append(_check("judge", None, f"not asked: {gap}"))
    elif _passing(checks):
        tag = judge_tag()
        reply, update["llm_calls"] = ask(
            state, ctx, "judge", "judge", 0.0, about={"candidate": cand["key"]}, schema=VERDICT_SCHEMA, tag=tag,
            checks="\n".join(f"- {c['name']}: {verdict_mark(c)}: {c['reason']}" for c in checks), workload=evidence,
            source_code=read_code(state, src), source_output=read_stdout(state, src), source_measurement=describe_measurement(src.get("measurement")),
            candidate_code=read_code(state, cand), candidate_output=read_stdout(state, cand),
            candidate_measurement=describe_measurement(cand.get("measurement")))
        checks.append({"name": "judge", **parse_verdict(reply.text)})
    else:
        checks.append(_check("judge", None, "not asked: a check before it failed"))
    valid = _passing(checks) and checks[-1]["ok"] is True
    validation = {"valid": valid, "checks": checks, **({"why_not": gap} if gap and _passing(checks) else {})}
    record = {**cand, "status": "judged", "validation": validation}
    return {**update, "candidates": {SOURCE: src, cand["key"]: record}}


def _output_check(name: str, found: OutputCheck) -> dict:
    """pass, FAIL, or inconclusive (agreeing on too little to count)."""
    if found.same and not found.conclusive:
        return _check(name, None, found.reason, inconclusive=True)
    return _check(name, found.same, found.reason)


EVIDENCE_LAYERS = ("output", "check-args", "verify", "check-cmd", "witness", "workload")  # the deterministic layers that can vouch for a candidate


def _evidence_gap(checks: list[dict]) -> str:
    """Why the candidate cannot be valid whatever the model says ('' when it can)."""
    vouching = [c for c in checks if c["name"] in EVIDENCE_LAYERS and c["ok"] is True]
    if not vouching:
        weak = ", ".join(f"{c['name']} {verdict_mark(c).lower()}" for c in checks if c["name"] in EVIDENCE_LAYERS)
        return f"no layer gave conclusive evidence ({weak})"
    flagged = next((c for c in checks if c.get("flagged")), None)
    if flagged and not any(c.get("sees_results") for c in vouching):
        return (f"the {flagged['name']} layer flagged a drop ({flagged['reason'].split('; ')[0]}) and no layer that"
                f" sees the results cleared it (outputs that change with --check-args, --verify-flags, --check-cmd, a witness)")
    return ""


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


def _check_runs(run: RunDir, candidate: dict, arg_sets: list[str], limits: list[float], env: dict[str, str],
                sandbox: Sandbox) -> list[dict]:
    """Run the candidate on each extra argument set; outputs go to <candidate>/check-args/<n>/."""
    binary, work = binary_of(run, candidate)
    runs = []
    for number, (line, limit) in enumerate(zip(arg_sets, limits), start=1):
        result = run_program([str(binary), *shlex.split(line)], work, limit, env=env, sandbox=sandbox)
        folder = run.at(candidate["dir"]) / "check-args" / str(number)
        stdout_sha256 = write_recorded(folder / "stdout.txt", result.stdout)
        write_text(folder / "stderr.txt", result.stderr)
        runs.append({"args": line, "ok": result.ok, "failure": result.failure(limit), "seconds": result.seconds,
                     "stdout_path": run.relative(folder / "stdout.txt"), "stdout_sha256": stdout_sha256})
    return runs


def _source_check_runs(state: State, ctx: Context, src: dict, env: dict[str, str], sandbox: Sandbox) -> dict:
    """The source's outputs on the extra argument sets, made once; the source must run cleanly on them."""
    if "check_runs" in src and [r["args"] for r in src["check_runs"]] == ctx.check_args:
        return src
    limit = ctx.time_limit or SOURCE_TIME_LIMIT_S
    runs = _check_runs(run_dir(state), src, ctx.check_args, [limit] * len(ctx.check_args), env, sandbox)
    for r in runs:
        if not r["ok"]:
            raise LassiError(f"the source {r['failure']} on --check-args {r['args']!r} (output in"
                             f" {file_at(state, r['stdout_path']).parent}): give argument sets the source itself runs with")
    return {**src, "check_runs": runs}


def _candidate_limits(ctx: Context, src: dict) -> list[float]:
    return [ctx.time_limit or candidate_time_limit(r["seconds"]) for r in src["check_runs"]]


def _compare_check_runs(run: RunDir, src: dict, cand: dict, compare) -> dict:
    if not cand["check_runs"]:
        return _check("check-args", None, "no extra argument sets given (--check-args)")
    conclusive = 0
    for theirs, mine in zip(src["check_runs"], cand["check_runs"]):
        if not mine["ok"]:
            return _check("check-args", False, f"with arguments {mine['args']!r} it {mine['failure']}")
        same = compare(*(read_recorded(run.at(r["stdout_path"]), r.get("stdout_sha256")) for r in (theirs, mine)))
        if not same.same:
            return _check("check-args", False, f"with arguments {mine['args']!r}: {same.reason}")
        conclusive += same.conclusive
    sets = len(cand["check_runs"])
    agreed = f"the output agrees on {sets} extra argument set{'s' if sets > 1 else ''}"
    if not conclusive:
        return _check("check-args", None, f"inconclusive: {agreed}, but on too little to count", inconclusive=True)
    main = read_recorded(run.at(src["run"]["stdout_path"]), src["run"].get("stdout_sha256"))
    changing = any(not compare(main, read_recorded(run.at(r["stdout_path"]), r.get("stdout_sha256"))).same
                   for r in src["check_runs"])
    return _check("check-args", True, agreed + ("" if changing else "; the source prints the same on every set,"
                                                " so the lines do not show its results"), sees_results=changing)


def _verify_layer(state: State, ctx: Context, src: dict, cand: dict, env: dict[str, str], sandbox: Sandbox,
                  compare) -> tuple[dict, dict]:
    """The source's verification run (made once per flags), and the candidate's held to it."""
    prog, args = program(state), state.get("args", [])
    if (src.get("verify_run") or {}).get("flags") != ctx.verify_flags:
        run = verification_run(state, prog, ctx, src, args, ctx.time_limit or SOURCE_TIME_LIMIT_S, env, sandbox)
        src = {**src, "verify_run": {**source_must_pass(run, "verification build", "verify_flags"),
                                     "flags": ctx.verify_flags}}
    limit = ctx.time_limit or candidate_time_limit(src["run"]["seconds"])
    mine = verification_run(state, prog, ctx, cand, args, limit, env, sandbox)
    ok, reason, _ = verify_check(run_dir(state), src["verify_run"], mine, compare)
    return src, _check("verify", ok, reason, **({"inconclusive": True} if ok is None else {"sees_results": bool(ok)}))


def _check_cmd_layer(state: State, ctx: Context, src: dict, cand: dict, sandbox: Sandbox) -> tuple[dict, dict]:
    """The user's check command on the source (once per command), then on the candidate."""
    limit = ctx.time_limit or SOURCE_TIME_LIMIT_S
    if (src.get("check_cmd_run") or {}).get("command") != ctx.check_cmd:
        run = check_command_run(state, ctx.check_cmd, src, limit, sandbox)
        src = {**src, "check_cmd_run": {**source_must_pass(run, "check command", "check_cmd"), "command": ctx.check_cmd}}
    mine = check_command_run(state, ctx.check_cmd, cand, limit, sandbox)
    if not mine["ok"]:
        return src, _check("check-cmd", False, f"the check command {mine['failure']}")
    return src, _check("check-cmd", True, "the check command passed (exit 0)", sees_results=True)


def _counting_limit(ctx: Context, state: State, src: dict, source_workload: dict | None = None) -> float:
    """The time limit of a counting run: the user's, or the executor's rule applied to the source's run.

    CUPTI's runs are timed against the source's counting run once made; callgrind's against the
    source's native run (the counter scales its own limit)."""
    if ctx.time_limit:
        return ctx.time_limit
    if state["language"] != "cuda":
        return candidate_time_limit(src["run"]["seconds"])
    seconds = (source_workload or {}).get("counts", {}).get("seconds")
    return candidate_time_limit(seconds) if seconds else SOURCE_TIME_LIMIT_S


def _workload_check(src: dict, cand: dict, strict: bool) -> tuple[dict, str]:
    """The workload layer's check, and the evidence the judge is shown."""
    why = src.get("error") or cand.get("error")
    if why:
        ok = False if strict else None
        rejected = " (rejected: --strict-workload needs the counts)" if ok is False else ""
        return _check("workload", ok, f"not counted: {why}{rejected}"), f"Not counted: {why}."
    if "cpu" in src:
        source_cpu, candidate_cpu = CpuWork.from_dict(src["cpu"]), CpuWork.from_dict(cand["cpu"])
        found, what = compare_cpu_work(source_cpu, candidate_cpu), "CPU work (instructions counted by callgrind)"
        table = cpu_work_table({"original": source_cpu, "refactored": candidate_cpu})
    else:
        source_work, candidate_work = Workload.from_dict(src["counts"]), Workload.from_dict(cand["counts"])
        found, what = compare_workloads(source_work, candidate_work), "GPU work"
        table = workload_table({"original": source_work, "refactored": candidate_work})
    if not found.flagged:
        return _check("workload", True, found.reason, flagged=False), f"{table}\n\nNo drop in {what}: {found.reason}."
    evidence = f"{table}\n\nFLAGGED: the refactored program does less {what}: {found.reason}."
    if strict:
        return _check("workload", False, f"{found.reason} (rejected: --strict-workload)", flagged=True), evidence
    return _check("workload", None, found.reason, flagged=True), evidence
