"""Savings too large to take on trust: accepted only when every validation layer gave conclusive evidence.

A rewrite that saves most of a program's energy is more often one that skips most of its work than
a discovery; the method's paper says as much of its own outliers. Such a saving is accepted only
when no layer was inconclusive, skipped or flagged, and it is then marked with the evidence behind it.
"""

from __future__ import annotations

from graph.state import Candidate
from tools.energy.measurement import run_values
from tools.energy.stats import relative_change


def weigh_extraordinary(cand: Candidate, src: Candidate, outcome: str, why: str,
                        threshold: float) -> tuple[str, str, dict]:
    """(outcome, reason, fields for the candidate's record): a better candidate whose saving against the
    source passes `threshold` keeps its outcome only on gap-free evidence, and is marked extraordinary."""
    if outcome != "better":
        return outcome, why, {}
    measurement = cand.get("measurement") or {}
    metric = measurement.get("objective") or (measurement.get("comparison") or {}).get("objective")
    mine, theirs = run_values(measurement, metric), run_values(src.get("measurement") or {}, metric)
    change = relative_change(mine, theirs) if mine and theirs else None
    if change is None:  # no runs, or no positive mean, to take a ratio of: nothing to weigh
        return outcome, why, {}
    saving = -change.change
    if saving <= threshold:
        return outcome, why, {}
    checks = cand["validation"]["checks"]
    gaps = [f"{c['name']} {_gap(c)}" for c in checks if c["ok"] is not True or c.get("flagged")]
    if gaps:
        return ("not_better", f"{why}; a saving of {saving:.0%} against the source is beyond {threshold:.0%} and is"
                f" accepted only on evidence without gaps, but: {'; '.join(gaps)}", {})
    evidence = [f"{c['name']}: {c['reason']}" for c in checks]
    return outcome, f"{why}; extraordinary saving of {saving:.0%}, backed by every layer", \
        {"extraordinary": {"saving": saving, "evidence": evidence}}


def _gap(check: dict) -> str:
    if check.get("flagged"):
        return f"flagged ({check['reason'].split('; ')[0]})"
    if check.get("inconclusive"):
        return "inconclusive"
    return f"skipped ({check['reason']})"
