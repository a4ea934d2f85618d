"""Stage 2 as a user sees it: documents reach the summarizer, summaries are cached between runs and asked
concurrently, the planner sees the measured figures, and the report sums model use per role."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from app.api import optimize
from app.cli import main
from tests.helpers.documents import HTML, MARKDOWN, write_pdf
from tests.helpers.programs import SUMMARIES, VALID, answer, sleeper
from tools.rundir import read_jsonl

SLOW = 320  # milliseconds: candidates slower than the source, so each run takes the shortest path through Stage 3


def responses(**extra) -> dict:
    return {"coder": [answer(sleeper(SLOW))] * 2, "judge": [VALID] * 2, "planner": ["the plan"],
            "reporter": ["comparison"], **extra}


def run(program, model: str, settings, cache_dir: Path, on_step=None, **overrides):
    return optimize(program, ["100"], on_step=on_step,
                    **settings(model, max_iterations=1, cache_dir=str(cache_dir), **overrides))


def summarizer_records(result) -> dict[str, dict]:
    return {r["key"]: r for r in read_jsonl(result.run_dir / "llm.jsonl") if r["role"] == "summarizer"}


def usage_row(result, role: str) -> list[str]:
    line = next(line for line in result.report_path.read_text().splitlines() if line.startswith(f"| {role} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_selected_parts_of_pdf_markdown_and_html_reach_the_summarizer(program, session, tmp_path, capsys):
    pdf = write_pdf(tmp_path / "guide.pdf", [["Marker PDF-ONE"], ["Marker PDF-TWO"], ["Marker PDF-THREE"]])
    (tmp_path / "notes.md").write_text(MARKDOWN)
    (tmp_path / "guide.html").write_text(HTML)
    code = main(["optimize", str(program), "--args", "100", "--model", session(responses()), "--max-iterations", "1",
                 "--run-dir", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache"),
                 "--knowledge", f"{pdf}#pages=2", "--knowledge", f"{tmp_path / 'notes.md'}#sections=Pinned buffers",
                 "--knowledge", f"{tmp_path / 'guide.html'}#sections=Coalesced access"])
    assert code == 0, capsys.readouterr().err
    records = [r for r in read_jsonl(tmp_path / "run" / "llm.jsonl") if r["role"] == "summarizer"]
    for record in (r for r in records if r["key"] in ("summarizer/knowledge", "summarizer/code")):
        prompt = record["prompt"]
        assert all(m in prompt for m in ("PDF-TWO", "MD-PINNED", "MD-MEASURE", "HTML-COALESCE")), record["key"]
        assert not any(m in prompt for m in ("PDF-ONE", "PDF-THREE", "MD-STREAMS", "HTML-SHARED")), record["key"]
    assert "MD-PINNED" in (tmp_path / "run" / "context" / "knowledge.md").read_text()


def test_a_second_run_on_the_same_inputs_asks_no_summary_of_the_model(program, session, settings, tmp_path):
    model = session(responses())
    first = run(program, model, settings, tmp_path / "cache")
    second = run(program, model, settings, tmp_path / "cache")
    assert {r["cache"] for r in summarizer_records(first).values()} == {"miss"}
    hits = summarizer_records(second)
    assert set(hits) == set(SUMMARIES) and {r["cache"] for r in hits.values()} == {"hit"}
    assert all(r["tokens_in"] == 0 and r["tokens_out"] == 0 for r in hits.values())
    assert second.state["summaries"] == first.state["summaries"]
    assert usage_row(first, "summarizer")[1:3] == ["3", "0"]
    assert usage_row(second, "summarizer")[1:3] == ["0", "3"]  # model calls, answered from cache
    assert int(usage_row(second, "coder")[3]) > 0  # the other roles still count their tokens


def test_changed_knowledge_source_or_model_asks_again(program, session, settings, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text(MARKDOWN)
    model = session(responses())
    run(program, model, settings, tmp_path / "cache", knowledge=[str(notes)])

    notes.write_text(MARKDOWN.replace("MD-STREAMS", "MD-STREAMS-EDITED"))
    edited = {k: r["cache"] for k, r in summarizer_records(
        run(program, model, settings, tmp_path / "cache", knowledge=[str(notes)])).items()}
    assert edited == {"summarizer/knowledge": "miss", "summarizer/system": "hit", "summarizer/code": "miss"}

    (program / "main.cpp").write_text(sleeper(210))
    new_source = {k: r["cache"] for k, r in summarizer_records(
        run(program, model, settings, tmp_path / "cache", knowledge=[str(notes)])).items()}
    assert new_source == {"summarizer/knowledge": "hit", "summarizer/system": "hit", "summarizer/code": "miss"}

    other = tmp_path / "other-model.json"
    shutil.copy(model.removeprefix("scripted:"), other)
    other_model = {k: r["cache"] for k, r in summarizer_records(
        run(program, f"scripted:{other}", settings, tmp_path / "cache", knowledge=[str(notes)])).items()}
    assert set(other_model.values()) == {"miss"}


def test_the_three_summaries_take_about_one_call_not_three(program, session, settings, tmp_path):
    delay = 2.0
    slow = {key: [{"text": texts[0], "delay_s": delay}] for key, texts in SUMMARIES.items()}
    steps: list[tuple[str, float]] = []
    result = run(program, session(responses(**slow)), settings, tmp_path / "cache",
                 on_step=lambda node, update, state: steps.append((node, time.monotonic())))
    at = [i for i, (node, _) in enumerate(steps) if node == "summarizer"][0]
    stage = steps[at][1] - steps[at - 1][1]
    records = summarizer_records(result)
    assert all(r["latency_s"] >= delay for r in records.values())
    assert stage < 2 * delay, f"the summarizer stage took {stage:.1f} s for three calls of {delay} s each"


def test_the_planner_sees_the_measured_figures_of_the_code_it_plans_for(program, session, settings, tmp_path):
    result = run(program, session(responses()), settings, tmp_path / "cache")
    [plan] = [r for r in read_jsonl(result.run_dir / "llm.jsonl") if r["role"] == "planner"]
    assert plan["for_candidate"] == "000"
    runtime = result.source["measurement"]["stats"]["duration_s"]
    assert f"runtime {runtime['mean']:.4g} s" in plan["prompt"]


def test_model_use_is_logged_per_call_and_summed_per_role(program, session, settings, tmp_path):
    result = run(program, session(responses()), settings, tmp_path / "cache")
    records = [r for r in read_jsonl(result.run_dir / "llm.jsonl") if "response" in r]
    assert all(r["tokens_in"] > 0 and r["tokens_out"] > 0 and r["latency_s"] >= 0 and r["tokens_estimated"]
               for r in records)
    for role in ("coder", "judge", "planner", "summarizer"):
        mine = [r for r in records if r["role"] == role]
        row = usage_row(result, role)
        assert row[1] == str(len(mine)) and row[3] == str(sum(r["tokens_in"] for r in mine))
    assert "estimates" in result.report_path.read_text()
