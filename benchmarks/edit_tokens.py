"""The coder's output tokens when it answers in edits against whole files, step by step, on the recorded
sessions of heat2d (83 lines) and plume3d (361 lines), each replayed through a local fake
OpenAI-compatible server three times: every coder answer as the whole file the session records, as a
unified diff, and as SEARCH/REPLACE blocks against the code the prompt showed.

    python -m benchmarks.edit_tokens [--programs heat2d plume3d] [--iterations 2] [--threads 1]

The figures are each run's own: the coder's `tokens_out` in its llm.jsonl, which the server's usage
reports (a rough offline tokenizer: words, numbers and each symbol apart). Each run also says whether its
best was better by the decision rule and the change the fresh confirmation pairs measured.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from app.api import optimize
from tests.helpers.model_server import SMALL_SIZES, WHOLE_FILE, FakeServer, replay_inputs, replaying
from tools.llm.edits import DIFF, SEARCH_REPLACE

ROOT = Path(__file__).resolve().parent.parent
FORMS = (WHOLE_FILE, DIFF, SEARCH_REPLACE)


def run_in(form: str, name: str, folder: Path, iterations: int) -> dict:
    """One optimize run of `name` with the coder answering in `form`: its coder calls and its best."""
    session = ROOT / "examples" / "sessions" / name / "session.json"
    server = FakeServer(replaying(session, form), lifetime_s=1800)
    try:
        result = optimize(ROOT / "examples" / "programs" / name, **replay_inputs(name), model="vllm:local-coder",
                          base_url=server.url, max_iterations=iterations, runs_root=str(folder / "runs"),
                          cache_dir=str(folder / "cache"), max_repeats=6, confirm_pairs=6)
    finally:
        server.stop()
    records = [json.loads(line) for line in (result.run_dir / "llm.jsonl").read_text().splitlines()]
    calls = [(r["candidate"], r["mode"], r["tokens_out"]) for r in records if r["role"] == "coder" and "response" in r]
    return {"calls": calls, "best": result.best, "confirmation": result.state.get("confirmation"),
            "lines": len((ROOT / "examples" / "programs" / name / "main.cpp").read_text().splitlines())}


def table(name: str, runs: dict[str, dict]) -> str:
    """Per coder call: its candidate and mode, the tokens in each form and the ratios; then the totals."""
    whole = runs[WHOLE_FILE]["calls"]
    lines = [f"{name} ({runs[WHOLE_FILE]['lines']} lines): coder output tokens per call",
             f"  {'call':>4} {'candidate':>9} {'mode':<10} {'whole':>6} {'diff':>6} {'S/R':>6} {'whole/diff':>10}"
             f" {'whole/SR':>8}"]
    steps = min(len(run["calls"]) for run in runs.values())
    for n in range(steps):
        w, d, s = (runs[form]["calls"][n][2] for form in FORMS)
        same = {runs[form]["calls"][n][:2] for form in FORMS}
        where = f"{whole[n][0]:>9} {whole[n][1]:<10}" if len(same) == 1 else f"{'(differs)':>9} {'':<10}"
        lines.append(f"  {n + 1:>4} {where} {w:>6} {d:>6} {s:>6} {w / d:>9.1f}x {w / s:>7.1f}x")
    totals = [sum(c[2] for c in runs[form]["calls"][:steps]) for form in FORMS]
    lines.append(f"  {'all':>4} {'':>9} {'':<10} {totals[0]:>6} {totals[1]:>6} {totals[2]:>6}"
                 f" {totals[0] / totals[1]:>9.1f}x {totals[0] / totals[2]:>7.1f}x")
    for form in FORMS:
        best, confirmed = runs[form]["best"], (runs[form]["confirmation"] or {}).get("ratio") or {}
        saving = (f"confirmed change {confirmed['change']:+.1%} [{confirmed['low']:+.1%}, {confirmed['high']:+.1%}]"
                  if confirmed else "no confirmation (the best is the source)")
        lines.append(f"  {form:<15} best v{best['version']:03d} ({best.get('outcome', 'source')}), {saving}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", nargs="+", default=list(SMALL_SIZES), choices=list(SMALL_SIZES))
    parser.add_argument("--iterations", type=int, default=2, help="Stage 3 candidates per run")
    parser.add_argument("--threads", default="1", help="OMP_NUM_THREADS of every run (one thread resists load)")
    options = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = options.threads
    with tempfile.TemporaryDirectory() as scratch:
        for name in options.programs:
            runs = {form: run_in(form, name, Path(scratch) / name / form.replace("/", "-").replace(" ", "-"),
                                 options.iterations) for form in FORMS}
            print(table(name, runs), flush=True)


if __name__ == "__main__":
    main()
