"""A suite's figures and report: per program the best valid saving over its trials, energy-reduction@k,
invalid and failed counts, tokens and time; per trial what its run found.

Plain functions over each trial's run state and llm.jsonl records, so the figures can be recomputed
from the run directories alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from math import comb
from pathlib import Path

from tools.energy.measurement import run_values
from tools.energy.metrics import describe_objective
from tools.energy.stats import relative_change
from tools.llm.usage import RoleUsage, role_usage, tokens_estimated, total_usage
from tools.report.document import Block, Document, Heading, Para, Table, to_markdown
from tools.report.run_report import comparison_table, usage_blocks
from tools.rundir import version_label

AT_K_METHOD = (
    "For each program, take the savings s1…sn of its n trials: the relative decrease of the program's"
    " objective from the source to the trial's best valid candidate, 0 for a trial that found no valid"
    " saving or did not finish. Its energy-reduction@k is the mean, over all C(n, k) ways to choose k of"
    " the n trials, of the largest saving among the k chosen; with the savings sorted so that"
    " s(1) ≤ … ≤ s(n) this is Σ C(i−1, k−1)·s(i) / C(n, k), the estimator pass@k uses. The suite's"
    " figure is the mean over programs. Its share@k is the mean over programs of the chance that k trials"
    " chosen among the n include one with a valid saving, 1 − C(n−c, k)/C(n, k) where c trials found one;"
    " at k = n it is the share of programs with any valid saving. k runs from 1 to the fewest trials any"
    " program has.")


@dataclass
class TrialRecord:
    """One trial as the bench found it: its run's latest state, its model log, the time spent on it."""

    program: str
    number: int
    run_dir: str
    status: str  # finished | failed
    error: str = ""  # why it failed
    state: dict = field(default_factory=dict)  # {} when the run never reached its first checkpoint
    llm_records: list[dict] = field(default_factory=list)
    seconds: float = 0.0  # wall-clock time the bench spent on it, over every session


def best_of_k(savings: list[float], k: int) -> float:
    """The mean over every k-subset of the trials of the subset's largest saving."""
    ordered = sorted(savings)
    return sum(comb(i, k - 1) * s for i, s in enumerate(ordered)) / comb(len(ordered), k)


def any_of_k(n: int, found: int, k: int) -> float:
    """The chance that k trials chosen among n include at least one of the `found` with a valid saving."""
    return 1.0 - comb(n - found, k) / comb(n, k)


def trial_figures(trial: TrialRecord) -> dict:
    candidates = sorted((trial.state.get("candidates") or {}).values(), key=lambda c: c["version"])
    source = next((c for c in candidates if c["origin"] == "source"), None)
    measured = (source or {}).get("measurement") or {}
    objective = measured.get("objective")
    best = (trial.state.get("candidates") or {}).get(trial.state.get("best") or "")
    found = trial.status == "finished" and best is not None and best["origin"] != "source" and objective is not None
    saving, interval = 0.0, None
    if found:
        delta = relative_change(run_values(best["measurement"], objective), run_values(measured, objective))
        saving = -delta.change
        interval = [-delta.high, -delta.low] if math.isfinite(delta.low) else None
    generated = [c for c in candidates if c["origin"] != "source"]
    usage = total_usage(role_usage(trial.llm_records))
    table = comparison_table(source, best, candidates) if found else None
    return {"trial": trial.number, "status": trial.status, "error": trial.error, "run_dir": trial.run_dir,
            "objective": objective, "valid_saving": found, "saving": saving, "interval": interval,
            "best": version_label(best) if found else None, "best_origin": best["origin"] if found else None,
            "table": table,
            "stop_reason": trial.state.get("stop_reason", ""), "candidates": len(generated),
            "invalid": sum(c.get("outcome") == "invalid" for c in generated),
            "discarded": sum(c.get("outcome") == "discarded" for c in generated),
            "fixes": sum(c["origin"] == "fix" for c in generated),
            **_usage_figures(usage), "seconds": round(trial.seconds, 3)}


def program_figures(name: str, trials: list[dict]) -> dict:
    n = len(trials)
    savings = [t["saving"] for t in trials]
    found = sum(t["valid_saving"] for t in trials)
    winner = max((t for t in trials if t["valid_saving"]), key=lambda t: t["saving"], default=None)
    best = {key: winner[key] for key in ("trial", "best", "saving", "interval", "table")} if winner else None
    return {"program": name, "objective": next((t["objective"] for t in trials if t["objective"]), None),
            "trials": n, "finished": sum(t["status"] == "finished" for t in trials),
            "failed": sum(t["status"] == "failed" for t in trials), "with_valid_saving": found,
            "best_saving": best,
            **{key: sum(t[key] for t in trials) for key in ("candidates", "invalid", "discarded", "fixes",
                                                            "model_calls", "tokens_in", "tokens_out")},
            "model_seconds": round(sum(t["model_seconds"] for t in trials), 3),
            "seconds": round(sum(t["seconds"] for t in trials), 3),
            "reduction_at_k": [best_of_k(savings, k) for k in range(1, n + 1)],
            "share_at_k": [any_of_k(n, found, k) for k in range(1, n + 1)],
            "per_trial": trials}


def suite_figures(suite_path: str, about: str, records: dict[str, list[TrialRecord]]) -> dict:
    """Everything the suite report shows, as JSON-able data (suite-report.json)."""
    programs = [program_figures(name, [trial_figures(t) for t in trials]) for name, trials in records.items()]
    depth = min(p["trials"] for p in programs)
    at_k = [{"k": k, "reduction": sum(p["reduction_at_k"][k - 1] for p in programs) / len(programs),
             "share": sum(p["share_at_k"][k - 1] for p in programs) / len(programs)} for k in range(1, depth + 1)]
    all_records = [r for trials in records.values() for t in trials for r in t.llm_records]
    totals = {key: sum(p[key] for p in programs) for key in
              ("trials", "finished", "failed", "candidates", "invalid", "discarded", "model_calls", "tokens_in",
               "tokens_out")}
    totals["model_seconds"] = round(sum(p["model_seconds"] for p in programs), 3)
    totals["seconds"] = round(sum(p["seconds"] for p in programs), 3)
    return {"suite": Path(suite_path).name, "suite_path": suite_path, "about": about, "programs": programs, "at_k": at_k, "at_k_method": AT_K_METHOD,
            "totals": totals, "usage_by_role": {role: vars(row) for role, row in sorted(role_usage(all_records).items())},
            "tokens_estimated": tokens_estimated(all_records)}


def _usage_figures(usage: RoleUsage) -> dict:
    return {"model_calls": usage.calls, "tokens_in": usage.tokens_in, "tokens_out": usage.tokens_out,
            "model_seconds": round(usage.seconds, 3)}


def objective_name(objective: str | None) -> str:
    """`net GPU energy`, `CPU package energy` or `runtime`: what a program's savings are savings of."""
    return describe_objective(objective).split(" (")[0] if objective else "—"


def saving_text(saving: float, interval: list[float] | None) -> str:
    text = f"{saving:.1%}"
    return text + (f" [{interval[0]:.1%}, {interval[1]:.1%}]" if interval else "")


def best_text(program: dict) -> str:
    best = program["best_saving"]
    if not best:
        return "none"
    return f"{saving_text(best['saving'], best['interval'])} (trial {best['trial']}, {best['best']})"


def render_markdown(figures: dict) -> str:
    programs, t = figures["programs"], figures["totals"]
    blocks: list[Block] = [Para(f"Suite file: {figures['suite_path']}.")]
    if figures["about"]:
        blocks.append(Para(figures["about"]))
    blocks += [
        Heading(2, "Programs"),
        Para("A saving is the relative decrease of the program's objective from the source to the best valid"
             " candidate of a trial (the run's best: it passed every validation layer and beat the source"
             " significantly); [low, high] is its 95% interval (Welch)."),
        Table(["program", "objective", "trials (finished, failed)", "best valid saving [95% interval] (trial, candidate)",
               "trials with a valid saving", "candidates", "invalid", "failed to build or run", "model calls",
               "tokens in", "tokens out", "model time (s)", "time (s)"],
              [[p["program"], objective_name(p["objective"]), f"{p['trials']} ({p['finished']}, {p['failed']})",
                best_text(p), f"{p['with_valid_saving']} of {p['trials']}", *_counts(p)] for p in programs]
              + [["**all**", "", f"{t['trials']} ({t['finished']}, {t['failed']})", "", "", *_counts(t)]]),
        Heading(2, "Source and best of each program's best trial"),
        Para("As in a run's report: means with the half-width of their 95% interval, changes with their interval."),
        Table(["program (trial)", "", "source", "best", "change"], [row for p in programs for row in _table10_rows(p)]),
        Heading(2, "Energy reduction@k"),
        Table(["k", "energy-reduction@k (mean saving of the best of k trials)",
               "share@k (programs with a valid saving within k trials)"],
              [[str(row["k"]), f"{row['reduction']:.1%}", f"{row['share']:.0%}"] for row in figures["at_k"]]),
        Para(figures["at_k_method"]),
        Para("Savings are of each program's own objective (the objective column): net GPU energy for CUDA programs;"
             " CPU package energy, or runtime where the machine has no readable energy counter, for C++ programs."),
        Heading(2, "Trials"),
        Table(["program", "trial", "status", "best valid saving [95% interval]", "best", "candidates", "invalid",
               "failed to build or run", "fixes", "tokens in", "tokens out", "time (s)", "stopped because",
               "run directory"],
              [_trial_row(p["program"], tr) for p in programs for tr in p["per_trial"]]),
        Para("Each run directory holds the trial's own report.md. Time is the wall-clock time the bench spent on a"
             " trial over all its sessions; model time is the sum of the model calls' latencies."),
        Heading(2, "Model use over all trials"),
        *usage_blocks({role: RoleUsage(**u) for role, u in figures["usage_by_role"].items()},
                      figures["tokens_estimated"])]
    return to_markdown(Document(f"LASSI-EE suite report: {figures['suite']}", blocks))


def _counts(row: dict) -> list[str]:
    """The count and time columns a program's row and the totals row share."""
    return [str(row[key]) for key in ("candidates", "invalid", "discarded", "model_calls", "tokens_in", "tokens_out")] \
        + [f"{row['model_seconds']:.1f}", f"{row['seconds']:.1f}"]


def _trial_row(program: str, tr: dict) -> list[str]:
    saving = saving_text(tr["saving"], tr["interval"]) if tr["valid_saving"] else "none"
    why = tr["stop_reason"] if tr["status"] == "finished" else f"failed: {tr['error']}"
    return [program, str(tr["trial"]), tr["status"], saving, tr["best"] or "source", str(tr["candidates"]),
            str(tr["invalid"]), str(tr["discarded"]), str(tr["fixes"]), str(tr["tokens_in"]), str(tr["tokens_out"]),
            f"{tr['seconds']:.1f}", why[:200], tr["run_dir"]]


def _table10_rows(program: dict) -> list[list[str]]:
    """The program's best trial: source against best as in that run's report (the paper's Table 10)."""
    best = program["best_saving"]
    if not best:
        return [[program["program"], "no valid saving in any trial", "", "", ""]]
    heading = f"{program['program']} (trial {best['trial']})"
    return [[heading if i == 0 else "", r["metric"], r["source"], r["best"], r["change"]]
            for i, r in enumerate(best["table"])]


def terminal_table(figures: dict) -> str:
    """The few lines printed when the bench ends."""
    rows = [("program", "objective", "trials", "best valid saving", "with saving", "invalid", "failed", "failed trials",
             "tokens", "time")]
    for p in figures["programs"]:
        rows.append((p["program"], objective_name(p["objective"]), f"{p['finished']}/{p['trials']}", best_text(p),
                     f"{p['with_valid_saving']}/{p['trials']}", str(p["invalid"]), str(p["discarded"]), str(p["failed"]),
                     str(p["tokens_in"] + p["tokens_out"]), f"{p['seconds']:.0f} s"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.append("energy-reduction@k: " + ", ".join(f"k={row['k']} {row['reduction']:.1%} (share {row['share']:.0%})"
                                                    for row in figures["at_k"]))
    return "\n".join(lines)
