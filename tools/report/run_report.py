"""The run's report: source against best, every candidate, the search, the diff, the model's comparison.

Plain functions over a run's records (candidate records, measurement files and traces, llm.jsonl,
and the model's comparison kept in comparison.md), so the reporter node and `lassi-ee report` build
the same report.md and report.html from the same run directory, without calling a model.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from pathlib import Path

from tools.cpu_work import CpuWork, cpu_work_rows
from tools.energy.measurement import run_values
from tools.energy.metrics import SHOWN, describe_objective, with_interval
from tools.energy.metrics import metric as metric_named
from tools.energy.stats import Change, paired_ratio, relative_change
from tools.llm.names import parse_model
from tools.llm.usage import RoleUsage, calls_by_server, role_usage, tokens_estimated
from tools.report.document import (
    Block,
    Code,
    Document,
    Figure,
    Heading,
    Items,
    Para,
    Prose,
    Table,
    to_markdown,
)
from tools.report.html import to_html
from tools.report.plots import SearchPoint, plot_overlay, plot_search
from tools.rundir import RunDir, read_jsonl_counting, version_label, write_text
from tools.sandbox.containment import raised_by
from tools.witness import ACCEPTED, describe_witness, remove_blocks
from tools.workload import Workload, workload_rows

OVERLAY_NAME = "power-overlay.png"
SEARCH_NAME = "search.png"


def write_reports(run: RunDir, state: dict, models: dict[str, str], base_url: str | None = None) -> Path:
    """Draw the run's pictures and write report.md and report.html from one document.

    `base_url` is the run's OpenAI-compatible server, where one was given: the report names each role's server.
    """
    candidates = sorted(state["candidates"].values(), key=lambda c: c["version"])
    source, best = candidates[0], state["candidates"][state["best"]]
    _draw_overlay(run.path, source, best, run.path / OVERLAY_NAME)
    _draw_search(candidates, best, run.path / SEARCH_NAME)
    records, damaged = read_jsonl_counting(run.llm_log)
    doc = build_document(run.path, source, best, candidates, run.comparison.read_text(), records,
                         state.get("stop_reason", ""), describe_models(models, base_url), damaged,
                         state.get("confirmation"), state.get("witness"))
    write_text(run.report, to_markdown(doc))
    write_text(run.report_html, to_html(doc, run.path))
    return run.report


def build_document(run_path: Path, source: dict, best: dict, candidates: list[dict], comparison: str,
                   llm_records: list[dict], stop_reason: str, models: str,
                   damaged_log_lines: int = 0, confirmation: dict | None = None,
                   witness: dict | None = None) -> Document:
    """The report's blocks; `models` says which model and server served each role (describe_models)."""
    improved = best["key"] != source["key"]
    cuda = Path(source["source"]).suffix == ".cu"
    blocks: list[Block] = [Para(f"Models — {models}.")]
    if (source.get("run") or {}).get("containment"):
        blocks.append(Para(f"Builds and runs were contained by {source['run']['containment']}."))
    if cap := (source.get("run") or {}).get("task_cap"):
        raise_it = "" if "setting" in cap["how"] else raised_by("max-processes")
        blocks.append(Para(f"Candidates' runs could have at most {cap['max_tasks']} processes and threads at once:"
                           f" {cap['how']}{raise_it}."))
    if notice := (source.get("run") or {}).get("notice"):
        blocks.append(Para(f"**Validation had little to go on:** {notice}."))
    if left := [f"{version_label(c)} ({c['run']['left_running']})" for c in candidates
                if (c.get("run") or {}).get("left_running")]:
        blocks.append(Para(f"Processes left running when a program ended were found and killed: {', '.join(left)}."))
    blocks.append(Para(f"**Best candidate: {version_label(best)}** ({best['origin']}), found at {run_path / best['dir']}."
                       if improved else "**No candidate beat the source.** The best code is the source itself."))
    hint = source["measurement"].get("device", {}).get("hint")
    blocks += [Para(f"Candidates were compared on {describe_objective(source['measurement']['objective'])}."
                    + (f" {hint[0].upper()}{hint[1:]}." if hint else "")
                    + f" {_stopped(stop_reason)}"),
               Heading(2, "Source and best"),
               *_headline(source, best, confirmation),
               Table(["", "source", "best", "change (screening)"],
                     [[r["metric"], r["source"], r["best"], r["change"]]
                      for r in comparison_table(source, best, candidates)]),
               Para("Figures in the table are screening figures: means over the search's measured runs; ± is the"
                    " half-width of the 95% confidence interval of the mean, and a change's [low, high] is the 95%"
                    " interval of the ratio of means (log scale). The best was chosen on these runs, so they lean"
                    " toward more saved.")]
    blocks += _profiles(run_path, source, best) if cuda else [Para("CPU program: no GPU power profile.")]
    blocks += [Heading(2, "The search"), Figure("Objective of every candidate in the order it was made", Path(SEARCH_NAME)),
               Para("Each candidate's mean objective with its 95% interval; failed candidates (no measurement) sit"
                    " on the x axis; the line is the best valid candidate so far, the star the final best."),
               Heading(2, "Candidates"),
               Table(["version", "origin", "parent", "temperature", "status", "outcome", "objective", "validation"],
                     [_candidate_row(c) for c in candidates]),
               *_witness_blocks(run_path, source, witness),
               Heading(2, "Validation"),
               Para("Each candidate that ran, layer by layer (cheapest first; a layer runs only when none before it"
                    " failed)."),
               _validations(candidates),
               Heading(2, "Work of source and best"), *workload_blocks(source, best),
               *([Heading(2, "Changes from source to best"), *_witness_left_out(witness),
                  Code(_diff(run_path, source, best, without_witness=True), "diff")] if improved
                 else [Para("The best is the source: no changes to show.")]),
               Heading(2, "The model's comparison"), Prose(comparison),
               Heading(2, "Model use"), *_usage(llm_records)]
    if damaged_log_lines:
        blocks.append(Para(f"{damaged_log_lines} damaged line{'s' if damaged_log_lines > 1 else ''} of llm.jsonl"
                           " (half-written when a run was killed) could not be read and are not counted here."))
    blocks += [Heading(2, "Time spent"), _time(candidates, llm_records)]
    return Document(f"LASSI-EE report: {run_path.name}", blocks)


def headline(source: dict, best: dict, confirmation: dict | None) -> tuple[Change | None, str]:
    """The saving to state, and where it comes from: Stage 4's fresh pairs where there are any, else the search's runs."""
    if confirmation and confirmation.get("best") == best["key"] and confirmation.get("new") and not confirmation.get("failed"):
        ratio = paired_ratio(confirmation["new"], confirmation["old"])
        return (ratio.change() if ratio else None), "confirmation"
    objective = source["measurement"]["objective"]
    return relative_change(run_values(best["measurement"], objective), run_values(source["measurement"], objective)), "screening"


def _headline(source: dict, best: dict, confirmation: dict | None) -> list[Block]:
    """The confirmed change of the objective, from runs made after the search alone."""
    if best["key"] == source["key"]:
        return []
    delta, origin = headline(source, best, confirmation)
    if origin != "confirmation" or delta is None:
        why = f" ({confirmation['failed']})" if (confirmation or {}).get("failed") else ""
        return [Para(f"**No confirmation runs**{why}: the change below comes from the search's runs alone.")]
    what = describe_objective(source["measurement"]["objective"])
    verdict = "a significant saving" if delta.high < 0 else "not a significant saving on these runs"
    host = _host_line(confirmation)
    return [Para(f"**Confirmed change of {what}: {delta.change:+.1%}** (95% interval {delta.low:+.1%} to"
                 f" {delta.high:+.1%}; {verdict}), from {confirmation['pairs']} fresh pairs of best and source"
                 f" measured alternately after the search; the headline comes from these runs alone.{host}")]


def _host_line(confirmation: dict) -> str:
    """The host CPU time of best and source on the confirmation runs, where it was recorded."""
    new, old = confirmation.get("new_cpu_s") or [], confirmation.get("old_cpu_s") or []
    if not new or None in new or None in old:
        return ""
    return f" Host CPU time on those runs: best {sum(new) / len(new):.3g} s, source {sum(old) / len(old):.3g} s."


def figure(stat: dict | None) -> str:
    return with_interval(stat) if stat else "—"


def change(new: dict, old: dict, metric: str) -> str:
    """The relative change of a metric between two measurements, with its 95% interval (ratio of means)."""
    new_values, old_values = run_values(new, metric), run_values(old, metric)
    delta = relative_change(new_values, old_values) if new_values and old_values else None
    if delta is None:
        return "—"
    interval = f" [{delta.low:+.1%}, {delta.high:+.1%}]" if delta.bounded else ""
    return f"{delta.change:+.1%}{interval}"


def comparison_table(source: dict, best: dict, candidates: list[dict]) -> list[dict]:
    """Rows of (metric, source, best, change): the shape of the paper's Table 10."""
    src_m, top_m = source["measurement"], best["measurement"]
    src, top = src_m["stats"], top_m["stats"]
    rows = [{"metric": m.heading, "source": figure(src.get(m.name)), "best": figure(top.get(m.name)),
             "change": change(top_m, src_m, m.name)} for m in SHOWN if m.name in src]
    rows.append({"metric": "Code version", "source": version_label(source), "best": version_label(best), "change": ""})
    rows.append({"metric": "Corrections (fix candidates)", "source": "",
                 "best": str(sum(c["origin"] == "fix" for c in candidates)), "change": ""})
    rows.append({"metric": "Refactorings (zero-shot and plan steps)", "source": "",
                 "best": str(sum(c["origin"] in ("zero-shot", "plan-step") for c in candidates)), "change": ""})
    return rows


def describe_models(models: dict[str, str], base_url: str | None = None) -> str:
    """Roles grouped by model, each model with its server; a scripted model is named as such wherever it appears."""
    by_model: dict[str, list[str]] = defaultdict(list)
    for role, name in models.items():
        by_model[name].append(role)
    return "; ".join(f"{', '.join(roles)}: {name} ({_server(name, base_url)})" for name, roles in by_model.items())


def _server(name: str, base_url: str | None) -> str:
    spec = parse_model(name, base_url)
    if spec.provider == "scripted":
        return "scripted: recorded answers replayed, no model was called"
    return f"server {spec.base_url}"


def _stopped(stop_reason: str) -> str:
    """The stop reason as a sentence; older runs recorded a bare phrase."""
    if not stop_reason:
        return "The run finished."
    return f"{stop_reason}." if stop_reason.startswith("Stage ") else f"The run stopped because: {stop_reason}."


def _profiles(run_path: Path, source: dict, best: dict) -> list[Block]:
    """The power-profile pictures, where the meter took a profile; otherwise say why there are none."""
    figures: list[Block] = []
    if (run_path / OVERLAY_NAME).exists():
        figures.append(Figure("Net GPU power of the source and the best candidate", Path(OVERLAY_NAME)))
    for c in _shown(source, best):
        if plot := (c.get("measurement") or {}).get("plot_path"):
            figures.append(Figure(f"{version_label(c)} power profile, every repeat", (run_path / plot).relative_to(run_path),
                                  small=True))
    if not figures:
        figures.append(Para(f"No power profile: the {source['measurement']['method']} meter takes no power samples."))
    return [Heading(2, "Power profiles"), *figures]


def _shown(source: dict, best: dict) -> tuple[dict, ...]:
    """Source and best, or the source alone when it stayed the best."""
    return (source, best) if best["key"] != source["key"] else (source,)


def _candidate_row(c: dict) -> list[str]:
    return [version_label(c), c["origin"], version_label(int(c["parent"])) if c["parent"] else "", _temperature(c),
            c["status"], _outcome(c), figure(_objective(c)), _validation(c)]


def _temperature(c: dict) -> str:
    return "" if c["origin"] == "source" else ("none (model takes none)" if c.get("temperature") is None else f"{c['temperature']:g}")


def _outcome(c: dict) -> str:
    if c.get("outcome"):
        return f"{c['outcome']}: {_short(c.get('outcome_reason', ''))}"
    return f"fixed by a later candidate: {_short(c.get('reason', ''))}"


def _objective(c: dict) -> dict | None:
    m = c.get("measurement")
    return m["stats"].get(m["objective"]) if m else None


def _validation(c: dict) -> str:
    checks = (c.get("validation") or {}).get("checks")
    return "; ".join(f"{ch['name']}: {verdict_mark(ch)}" for ch in checks) if checks else ""


def verdict_mark(check: dict) -> str:
    """pass, FAIL, skipped, INCONCLUSIVE (agreed on too little), or FLAGGED (a workload drop the judge was told about)."""
    if check.get("flagged"):
        return "FAIL (flagged)" if check["ok"] is False else "FLAGGED"
    if check.get("inconclusive"):
        return "INCONCLUSIVE"
    return {True: "pass", False: "FAIL", None: "skipped"}[check["ok"]]


def validation_item(c: dict) -> tuple[str, list[str]]:
    """The candidate's verdict, with one sub-item per layer: its mark and reason."""
    validation = c["validation"]
    verdict = "valid" if validation["valid"] else f"not valid ({_short(validation['why_not'], 200)})" \
        if validation.get("why_not") else "invalid"
    if c.get("extraordinary"):
        verdict += (f"; **extraordinary saving of {c['extraordinary']['saving']:.0%}**, accepted because every layer"
                    " below gave conclusive evidence")
    return (f"**{version_label(c)}** ({c['origin']}): {verdict}",
            [f"{ch['name']}: {verdict_mark(ch)} — {_short(ch['reason'])}" for ch in validation["checks"]])


def _validations(candidates: list[dict]) -> Block:
    judged = [validation_item(c) for c in candidates if (c.get("validation") or {}).get("checks")]
    return Items(judged) if judged else Para("No candidate ran far enough to be validated.")


def workload_blocks(source: dict, best: dict) -> list[Block]:
    """The work of the source and the best: kernels, copies and bytes (CUPTI) or instructions (callgrind)."""
    shown = [("source", source)] + ([(f"best ({version_label(best)})", best)] if best["key"] != source["key"] else [])
    gpu, cpu, missing = {}, {}, []
    for label, c in shown:
        work = c.get("workload") or {"error": "not counted"}
        if "counts" in work:
            gpu[label] = Workload.from_dict(work["counts"])
        elif "cpu" in work:
            cpu[label] = CpuWork.from_dict(work["cpu"])
        else:
            missing.append(f"{label}: not counted ({work['error']})")
    blocks: list[Block] = []
    if gpu:
        blocks += [Table(["", *gpu], [[label, *cells] for label, cells in workload_rows(gpu)]),
                   Para("Counted by CUPTI in separate, unmeasured runs on the main arguments (or those given for counting work).")]
    if cpu:
        blocks += [Table(["", *cpu], [[label, *cells] for label, cells in cpu_work_rows(cpu)]),
                   Para("Instructions counted by callgrind in separate, unmeasured runs on the main arguments (or those given for"
                        " counting work), on one OpenMP thread.")]
    return blocks + ([Para("; ".join(missing))] if missing else [])


def _short(text: str, limit: int = 300) -> str:
    """One line of at most `limit` characters; a cut one ends in an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _diff(run_path: Path, source: dict, best: dict, called: str = "best", without_witness: bool = False) -> str:
    """A unified diff of every editable file, source against best (paths in state are relative to the run);
    `without_witness` diffs the best as the user gets it, its witness blocks taken out."""
    old, new = _files(source), _files(best)
    parts = []
    for name in dict.fromkeys([*old, *new]):
        after = _lines(run_path, new.get(name))
        if without_witness:
            after = remove_blocks({name: "".join(after)}).get(name, "".join(after)).splitlines(keepends=True)
        parts.append("".join(difflib.unified_diff(_lines(run_path, old.get(name)), after, f"source/{name}",
                                                  f"{called}/{name}")))
    return "".join(parts).rstrip() or "(no change)"


def _witness_left_out(witness: dict | None) -> list[Block]:
    if not witness or witness["status"] != ACCEPTED:
        return []
    return [Para("The best's witness blocks are left out of this diff, as they are of best/ unless --keep-witness"
                 " was given.")]


def _witness_blocks(run_path: Path, source: dict, witness: dict | None) -> list[Block]:
    """The source's witness: whether there is one and why, and its diff from the source."""
    if not witness:
        return []
    blocks: list[Block] = [Heading(2, "Witness of the source"), Para(describe_witness(witness) + ".")]
    if witness["status"] == ACCEPTED:
        blocks += [Para("Candidates were made from it and, built with -DLASSI_WITNESS, had to print its lines; the"
                        " best is given back without its blocks unless --keep-witness is set. Its additions to the"
                        " source:"),
                   Code(_diff(run_path, source, witness, "witness"), "diff")]
    return blocks


def _files(candidate: dict) -> dict[str, str]:
    """A candidate's editable files by name (records older than several files name their one source)."""
    return candidate.get("files") or {Path(candidate["source"]).name: candidate["source"]}


def _lines(run_path: Path, stored: str | None) -> list[str]:
    return (run_path / stored).read_text().splitlines(keepends=True) if stored else []


def _usage(records: list[dict]) -> list[Block]:
    places = calls_by_server(records)
    where = Table(["model and server", "roles", "model calls"],
                  [[place, ", ".join(sorted(p["roles"])), str(p["calls"])] for place, p in places.items()])
    return [*usage_blocks(role_usage(records), tokens_estimated(records)), *([where] if places else [])]


def usage_blocks(usage: dict[str, RoleUsage], estimated: bool) -> list[Block]:
    """Per role: answered calls, answers taken from the summary cache, tokens and seconds spent."""
    blocks: list[Block] = [Table(["role", "model calls", "answered from cache", "tokens in", "tokens out", "seconds"],
                                 [[role, str(u.calls), str(u.cache_hits), str(u.tokens_in), str(u.tokens_out),
                                   f"{u.seconds:.1f}"] for role, u in sorted(usage.items())])]
    if estimated:
        blocks.append(Para("Token counts of scripted answers are estimates (characters / 4)."))
    return blocks


def _time(candidates: list[dict], records: list[dict]) -> Table:
    """Seconds spent building, measuring (waits included) and waiting for models, over the whole run."""
    builds = [c["build"]["seconds"] for c in candidates if (c.get("build") or {}).get("seconds") is not None]
    measured = [c["measurement"] for c in candidates if c.get("measurement")]
    answered = [r.get("latency_s") or 0.0 for r in records if "response" in r]
    return Table(["activity", "count", "seconds"],
                 [["builds", str(len(builds)), f"{sum(builds):.1f}"],
                  ["measured runs", str(sum(m["repeats"] for m in measured)), f"{sum(m['wall_s'] for m in measured):.1f}"],
                  ["model calls", str(len(answered)), f"{sum(answered):.1f}"]])


def _draw_overlay(run_path: Path, source: dict, best: dict, png: Path) -> None:
    """Source and best on one time axis, where both have a power trace."""
    profiles = [(f"{version_label(c)} {c['origin']}", run_path / c["measurement"]["trace_path"], c["measurement"])
                for c in _shown(source, best) if c["measurement"].get("trace_path")]
    if profiles:
        plot_overlay(profiles, png, "Net GPU power, typical repeat")


def _draw_search(candidates: list[dict], best: dict, png: Path) -> None:
    """Every candidate's objective in order, with the best valid one so far."""
    best_mean = _objective(candidates[0])["mean"]
    points = []
    for c in candidates:
        stat = _objective(c)
        if c.get("outcome") == "better":
            best_mean = stat["mean"]
        kind = ("source" if c["origin"] == "source" else "failed" if stat is None
                else "valid" if (c.get("validation") or {}).get("valid") else "invalid")
        points.append(SearchPoint(version_label(c), kind, stat and stat["mean"], stat and stat.get("ci95"),
                                  best_mean))
    metric = candidates[0]["measurement"]["objective"]
    plot_search(points, version_label(best), png, metric_named(metric).heading)
