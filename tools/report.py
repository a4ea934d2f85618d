"""The run's report in Markdown: source against best, every candidate, the diff, the model's comparison.

Plain functions over the run's candidate records and llm.jsonl, so a report can be rebuilt from a
run directory without the graph.
"""

from __future__ import annotations

import difflib
import math
from collections import defaultdict
from pathlib import Path

from tools.energy.measurement import run_values, with_interval
from tools.energy.stats import relative_change
from tools.workload import Workload, workload_table

OVERLAY_NAME = "power-overlay.png"
METRIC_ROWS = (("net_energy_j", "Net GPU energy (J)"), ("gross_energy_j", "Gross energy (J)"),
               ("avg_power_w", "Average power (W)"), ("duration_s", "Runtime (s)"))


def figure(stat: dict | None) -> str:
    return with_interval(stat) if stat else "—"


def change(new: dict, old: dict, metric: str) -> str:
    """The relative change of a metric between two measurements, with its 95% interval (Welch)."""
    new_values, old_values = run_values(new, metric), run_values(old, metric)
    if not new_values or not old_values or not sum(old_values):
        return "—"
    delta = relative_change(new_values, old_values)
    interval = f" [{delta.low:+.1%}, {delta.high:+.1%}]" if math.isfinite(delta.low) else ""
    return f"{delta.change:+.1%}{interval}"


def comparison_table(source: dict, best: dict, candidates: list[dict]) -> list[dict]:
    """Rows of (metric, source, best, change): the shape of the paper's Table 10."""
    src_m, top_m = source["measurement"], best["measurement"]
    src, top = src_m["stats"], top_m["stats"]
    rows = [{"metric": label, "source": figure(src.get(m)), "best": figure(top.get(m)),
             "change": change(top_m, src_m, m)} for m, label in METRIC_ROWS if m in src]
    rows.append({"metric": "Code version", "source": "v000", "best": f"v{best['version']:03d}", "change": ""})
    rows.append({"metric": "Corrections (fix candidates)", "source": "",
                 "best": str(sum(c["origin"] == "fix" for c in candidates)), "change": ""})
    rows.append({"metric": "Refactorings (zero-shot and plan steps)", "source": "",
                 "best": str(sum(c["origin"] in ("zero-shot", "plan-step") for c in candidates)), "change": ""})
    return rows


def describe_models(models: dict[str, str]) -> str:
    """Roles grouped by model; a scripted model is named as such wherever it appears."""
    by_model: dict[str, list[str]] = defaultdict(list)
    for role, name in models.items():
        by_model[name].append(role)
    parts = []
    for name, roles in by_model.items():
        label = f"{name} (scripted: recorded answers replayed, no model was called)" if name.startswith("scripted:") else name
        parts.append(f"{', '.join(roles)}: {label}")
    return "; ".join(parts)


def render_report(run_path: Path, source: dict, best: dict, candidates: list[dict], comparison: str,
                  llm_records: list[dict], stop_reason: str, objective_label: str, models: dict[str, str]) -> str:
    lines = [f"# LASSI-EE report: {run_path.name}", "", f"Models — {describe_models(models)}.", ""]
    if (source.get("run") or {}).get("containment"):
        lines += [f"Builds and runs were contained by {source['run']['containment']}.", ""]
    if best["key"] == source["key"]:
        lines += ["**No candidate beat the source.** The best code is the source itself.", ""]
    else:
        lines += [f"**Best candidate: v{best['version']:03d}** ({best['origin']}), found at {best['dir']}.", ""]
    lines += [f"Candidates were compared on {objective_label}. The run stopped because: {stop_reason or 'it finished'}.",
              "", "## Source and best", "", "| | source | best | change |", "|---|---|---|---|"]
    lines += [f"| {r['metric']} | {r['source']} | {r['best']} | {r['change']} |"
              for r in comparison_table(source, best, candidates)]
    lines += ["", "Figures are means over the measured runs; ± is the half-width of the 95% confidence interval"
              " of the mean, and a change's [low, high] is the 95% interval of the change (Welch).", ""]
    lines += _profiles(run_path, source, best)
    lines += ["## Candidates", "",
              "| version | origin | parent | temperature | status | outcome | objective | validation |",
              "|---|---|---|---|---|---|---|---|"]
    for c in candidates:
        lines.append(f"| v{c['version']:03d} | {c['origin']} | {('v' + c['parent']) if c['parent'] else ''} | "
                     f"{_temperature(c)} | {c['status']} | {_outcome(c)} | "
                     f"{figure(_objective(c))} | {_validation(c)} |")
    lines += ["", "## Validation", "", "Each candidate that ran, layer by layer (cheapest first; a layer runs only"
              " when none before it failed).", ""]
    lines += [line for c in candidates if (c.get("validation") or {}).get("checks") for line in validation_lines(c)]
    lines += ["", "## GPU work of source and best", "", workload_section(source, best)]
    lines += ["", "## Changes from source to best", "", "```diff", _diff(source, best), "```", "",
              "## The model's comparison", "", comparison.strip(), "", "## Model use", "",
              "| role | model calls | answered from cache | tokens in | tokens out | seconds |", "|---|---|---|---|---|---|"]
    lines += _usage(llm_records)
    return "\n".join(lines) + "\n"


def _profiles(run_path: Path, source: dict, best: dict) -> list[str]:
    """The power-profile pictures, where the meter took a profile."""
    lines = []
    if (run_path / OVERLAY_NAME).exists():
        lines += [f"![Net GPU power of the source and the best candidate]({OVERLAY_NAME})", ""]
    for c in (source, best) if best["key"] != source["key"] else (source,):
        plot = (c.get("measurement") or {}).get("plot_path")
        if plot:
            lines.append(f"- v{c['version']:03d} power profile, every repeat: [{Path(plot).name}]"
                         f"({Path(plot).relative_to(run_path)})")
    return lines + [""] if lines else []


def _temperature(c: dict) -> str:
    return "" if c["origin"] == "source" else ("none (model takes none)" if c.get("temperature") is None else f"{c['temperature']:g}")


def _outcome(c: dict) -> str:
    if c.get("outcome"):
        return f"{c['outcome']}: {_cell(c.get('outcome_reason', ''))}"
    return f"fixed by a later candidate: {_cell(c.get('reason', ''))}"


def _objective(c: dict) -> dict | None:
    m = c.get("measurement")
    return m["stats"].get(m["objective"]) if m else None


def _validation(c: dict) -> str:
    checks = (c.get("validation") or {}).get("checks")
    if not checks:
        return ""
    return "; ".join(f"{ch['name']}: {verdict_mark(ch)}" for ch in checks)


def verdict_mark(check: dict) -> str:
    """pass, FAIL, skipped, or FLAGGED (a workload drop the judge was told about)."""
    if check.get("flagged"):
        return "FAIL (flagged)" if check["ok"] is False else "FLAGGED"
    return {True: "pass", False: "FAIL", None: "skipped"}[check["ok"]]


def validation_lines(c: dict) -> list[str]:
    """The candidate's verdict, then one line per layer with its mark and reason."""
    verdict = "valid" if c["validation"]["valid"] else "invalid"
    lines = [f"- **v{c['version']:03d}** ({c['origin']}): {verdict}"]
    lines += [f"  - {ch['name']}: {verdict_mark(ch)} — {_cell(ch['reason'])}" for ch in c["validation"]["checks"]]
    return lines


def workload_section(source: dict, best: dict) -> str:
    """Kernel launches, copies and bytes of the source and the best, as CUPTI counted them."""
    shown = [("source", source)] + ([(f"best (v{best['version']:03d})", best)] if best["key"] != source["key"] else [])
    columns, missing = {}, []
    for label, c in shown:
        work = c.get("workload") or {"error": "not counted"}
        if "counts" in work:
            columns[label] = Workload.from_dict(work["counts"])
        else:
            missing.append(f"{label}: not counted ({work['error']})")
    text = workload_table(columns) + "\n\nCounted by CUPTI in separate, unmeasured runs on the main arguments." \
        if columns else ""
    return "\n\n".join(part for part in (text, "; ".join(missing)) if part)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")[:300]


def _diff(source: dict, best: dict) -> str:
    old = Path(source["source"]).read_text().splitlines(keepends=True)
    new = Path(best["source"]).read_text().splitlines(keepends=True)
    name = Path(source["source"]).name
    return "".join(difflib.unified_diff(old, new, f"source/{name}", f"best/{name}")).rstrip() or "(no change)"


def _usage(records: list[dict]) -> list[str]:
    """Per role: answered calls, answers taken from the summary cache, tokens and seconds spent."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0.0])
    for r in records:
        if "response" not in r:
            continue
        row = totals[r["role"]]
        row[1 if r.get("cache") == "hit" else 0] += 1
        row[2] += r.get("tokens_in") or 0
        row[3] += r.get("tokens_out") or 0
        row[4] += r.get("latency_s") or 0.0
    estimated = any(r.get("tokens_estimated") for r in records)
    rows = [f"| {role} | {c} | {h} | {i} | {o} | {s:.1f} |" for role, (c, h, i, o, s) in sorted(totals.items())]
    if estimated:
        rows.append("\nToken counts of scripted answers are estimates (characters / 4).")
    return rows
