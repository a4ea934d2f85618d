"""Whole runs against a local fake OpenAI-compatible server: edit fixes, cut-off answers, and a run that
stays on the server it started on (resume in a fresh shell, a server gone, a run moved explicitly)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.api import optimize, resume
from tests.helpers import ROOT
from tests.helpers.model_server import (
    FakeServer,
    answer,
    as_edits,
    canned,
    program_in,
    replay_inputs,
    replaying,
    role_of,
)
from tests.helpers.programs import sleeper
from tools.errors import LassiError
from tools.llm.usage import role_usage

FAST = 40  # milliseconds the faster test program waits (the source waits 200)


def by_role(**answers) -> callable:
    """A responder giving each role its listed answers in turn (a callable answer gets the request body),
    and the canned answer once a role's list is used up."""
    queues = {role: list(items) for role, items in answers.items()}

    def respond(body: dict) -> str:
        queue = queues.get(role_of(body)) or []
        if not queue:
            return canned(body)
        item = queue.pop(0)
        return item(body) if callable(item) else item

    return respond


def faster(form: str):
    """The coder's answer making the shown program wait FAST ms, in `form`."""
    def edit(body: dict) -> str:
        name, code = program_in(body)
        return as_edits(code, sleeper(FAST), name, form)
    return edit


@pytest.fixture
def fake():
    servers = []

    def start(respond, models=("local-coder",)) -> FakeServer:
        servers.append(FakeServer(respond, models=models, lifetime_s=240))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def run_on(server, program, settings, **overrides):
    """A short run on the fake server; without a witness, so the coder's first request is the zero-shot rewrite."""
    return optimize(program, ["100"], **settings("vllm:local-coder", base_url=server.url, max_iterations=1,
                                                 **{"witness": "off", **overrides}))


def coder_prompts(server) -> list[str]:
    return [b["messages"][-1]["content"] for b in server.chats if role_of(b) == "coder"]


def test_an_edit_that_does_not_apply_goes_back_as_an_edit_fix_not_a_build_error(fake, program, settings):
    wrong = "main.cpp\n```cpp\n<<<<<<< SEARCH\n#define WAIT_MS 999\n=======\n#define WAIT_MS 40\n>>>>>>> REPLACE\n```\n"
    server = fake(by_role(coder=[wrong, faster("search/replace")]))
    result = run_on(server, program, settings)
    first = result.state["candidates"]["001"]
    assert first["answer"]["form"] == "search/replace" and first["answer"]["fixes"] == 1
    assert first["outcome"] == "better" and result.state["corrections"] == 0
    fix = coder_prompts(server)[1]
    assert "the SEARCH text was not found in main.cpp" in fix and "#define WAIT_MS 999" in fix
    assert "Command:" not in fix and "failed to build" not in fix


def test_an_answer_cut_off_at_length_is_asked_again_and_never_built(fake, program, settings, tmp_path):
    server = fake(by_role()).then(answer("main.cpp\n```cpp\n#include <chrono>\nint main() {", finish_reason="length"))
    result = run_on(server, program, settings, max_output_tokens=1000)
    first = result.state["candidates"]["001"]
    assert first["answer"]["problems"][0].startswith("the answer was cut off at the output limit of 1000 tokens")
    assert first["build"]["ok"] and first["answer"]["finish_reason"] == "stop"
    records = [json.loads(line) for line in (result.run_dir / "llm.jsonl").read_text().splitlines()]
    assert [r["finish_reason"] for r in records if r["role"] == "coder"][:2] == ["length", "stop"]
    assert all(b["max_tokens"] == 1000 for b in server.chats)
    assert "cut off" in coder_prompts(server)[1]


def test_a_plan_cut_off_at_length_is_asked_again_shorter_and_the_whole_one_is_used(fake, program, settings):
    server = fake(by_role(planner=[answer("1. Fuse the two loops and", finish_reason="length"), "1. Wait less."]))
    result = run_on(server, program, settings, max_output_tokens=1000)
    plans = [b["messages"][-1]["content"] for b in server.chats if role_of(b) == "planner"]
    assert len(plans) == 2 and "stopped at the output limit of 1000 tokens" in plans[1]
    assert result.state["plan"]["text"] == "1. Wait less."
    assert "Fuse the two loops" not in (result.run_dir / result.state["plan"]["path"]).read_text()


def test_a_summary_always_cut_off_is_marked_so_and_never_cached(fake, program, settings, tmp_path):
    cut = lambda body: answer("The machine has", finish_reason="length")  # noqa: E731
    server = fake(by_role(summarizer=[cut] * 9))
    result = run_on(server, program, settings, max_answer_fixes=1)
    assert sum(role_of(b) == "summarizer" for b in server.chats) == 6  # three summaries, each asked twice
    assert all(text.endswith("(This answer was cut off at the output limit of 16384 tokens.)")
               for text in result.state["summaries"].values())
    again = fake(by_role())
    run_on(again, program, settings)
    assert sum(role_of(b) == "summarizer" for b in again.chats) == 3  # nothing cut off came from the cache


def test_think_text_reaches_no_plan_summary_prompt_or_report(fake, program, settings):
    plain = by_role(coder=[faster("search/replace")])
    result = run_on(fake(lambda body: "<think>PRIVATE-MUSING</think>\n" + plain(body)), program, settings)
    assert result.finished
    run = result.run_dir
    downstream = [*run.glob("plans/*.md"), *run.glob("context/*.md"), run / "report.md"]
    assert downstream and not any("PRIVATE-MUSING" in p.read_text() for p in downstream)
    prompts = [json.loads(line)["prompt"] for line in (run / "llm.jsonl").read_text().splitlines()]
    assert not any("PRIVATE-MUSING" in p for p in prompts)
    assert "PRIVATE-MUSING" in (run / "llm.jsonl").read_text()  # kept where it was said


def test_resume_in_a_fresh_shell_continues_on_the_server_the_run_started_on(fake, program, settings, monkeypatch,
                                                                             tmp_path):
    server = fake(by_role(coder=[faster("unified diff")]))
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-gateway-paired")
    paused = optimize(program, ["100"], interrupt_before=["judge"],
                      **settings("openai:local-coder", max_iterations=1, witness="off"))
    assert paused.paused_before == ("judge",)
    record = json.loads((paused.run_dir / "run.json").read_text())
    assert record["servers"]["judge"] == {"provider": "openai", "model": "local-coder", "base_url": server.url}
    before = len(server.chats)
    shell = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "LASSI", "VLLM"))}
    done = subprocess.run([sys.executable, "-m", "app.cli", "resume", str(paused.run_dir)], cwd=tmp_path,
                          env={**shell, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(server.chats) > before and "Report:" in done.stdout
    report = (paused.run_dir / "report.md").read_text()
    assert f"openai:local-coder @ {server.url}" in report


def test_a_server_gone_at_resume_gets_one_clear_line(fake, program, settings, tmp_path):
    server = fake(by_role())
    paused = run_on(server, program, settings, interrupt_before=["judge"])
    server.stop()
    done = subprocess.run([sys.executable, "-m", "app.cli", "resume", str(paused.run_dir)], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert f"no model server answers at {server.url}" in done.stderr and "--base-url" in done.stderr


def test_resume_with_model_and_base_url_moves_the_run_and_the_report_says_where_calls_went(fake, program, settings):
    first = fake(by_role())
    paused = run_on(first, program, settings, interrupt_before=["judge"])
    second = fake(by_role(), models=("other-coder",))
    result = resume(paused.run_dir, model="ollama:other-coder", base_url=second.url)
    assert result.finished and second.chats and all(b["model"] == "other-coder" for b in second.chats)
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["servers"]["coder"]["base_url"] == second.url
    assert record["moves"][0]["from"]["coder"]["base_url"] == first.url
    report = (result.run_dir / "report.md").read_text()
    assert f"vllm:local-coder @ {first.url}" in report and f"ollama:other-coder @ {second.url}" in report


def test_a_wrong_model_name_stops_before_stage_0_listing_the_served_models(fake, program, settings):
    server = fake(by_role(), models=("qwen2.5-coder:32b", "llama3"))
    with pytest.raises(LassiError, match="does not serve 'qwen-typo'; it serves: llama3, qwen2.5-coder:32b"):
        optimize(program, ["100"], **settings("vllm:qwen-typo", base_url=server.url))
    assert not any(p.name.startswith("2") for p in (program.parent / "runs").glob("*"))


EXAMPLES = ROOT / "examples"


def optimize_in(form: str, name: str, fake, settings, **overrides):
    """Optimize the example `name` at a small size against a fake server replaying its recorded session with
    every coder answer in `form`; returns the result and the coder answers' figures (see `replaying`)."""
    session = EXAMPLES / "sessions" / name / "session.json"
    figures: list[dict] = []
    server = fake(replaying(session, form, figures))
    result = optimize(EXAMPLES / "programs" / name, **replay_inputs(name),
                      **settings("vllm:local-coder", base_url=server.url, **overrides))
    return result, figures


def builds_the_recorded_code(result, name: str, form: str) -> None:
    """Every coder answer, given as edits against the code its prompt showed, left the very code the session's
    whole files hold, in the form asked and with no answer sent back."""
    session = EXAMPLES / "sessions" / name / "session.json"
    coded = [c for c in result.candidates if c.get("answer")]
    recorded = [session.parent / e["code_file"] for e in json.loads(session.read_text())["responses"]["coder"]]
    assert [(result.run_dir / c["source"]).read_text() for c in coded] == [p.read_text() for p in recorded[:len(coded)]]
    assert all(c["answer"]["form"] == form and c["answer"]["fixes"] == 0 for c in coded)


def coder_tokens_out(result) -> int:
    """The coder's output tokens as the run's llm.jsonl records them (the server's usage figures)."""
    records = [json.loads(line) for line in (result.run_dir / "llm.jsonl").read_text().splitlines()]
    return role_usage(records)["coder"].tokens_out


def saying(form: str, result, figures: list[dict]) -> str:
    edits, whole = coder_tokens_out(result), sum(f["whole"] for f in figures)
    confirmed = (result.state.get("confirmation") or {}).get("ratio")
    saving = (f"confirmed change {confirmed['change']:+.1%} [{confirmed['low']:+.1%}, {confirmed['high']:+.1%}]"
              if confirmed else "no candidate beat the source")
    return (f"\n{form}: {len(figures)} coder answers on a {figures[0]['lines']}-line source: {edits} output tokens as"
            f" edits, {whole} as whole files ({whole / edits:.1f}x fewer); best {result.best['key']}"
            f" ({result.best.get('outcome')}), {saving}")


@pytest.mark.parametrize("form", ["search/replace", "unified diff"])
def test_heat2d_answered_only_in_edits_runs_the_recorded_steps_and_ends_significantly_better(
        fake, settings, form, monkeypatch):
    """Every step of heat2d's recorded session, given as edits, builds the very code the session's whole
    files hold; the sweep in storage order saves far more than load can hide (one thread a run), and fresh
    runs confirm it. On an 83-line source the edits are fewer tokens, not five times fewer (plume3d's test)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result, figures = optimize_in(form, "heat2d", fake, settings, max_iterations=2, confirm_pairs=6)
    assert result.finished
    builds_the_recorded_code(result, "heat2d", form)
    print(saying(form, result, figures))
    assert coder_tokens_out(result) == sum(f["answer"] for f in figures) < sum(f["whole"] for f in figures)
    assert result.best["key"] != "000" and result.best["outcome"] == "better", result.best.get("outcome_reason")
    assert result.state["confirmation"]["ratio"]["high"] < 0  # fresh runs of source and best confirm the saving


@pytest.mark.parametrize("form", ["search/replace", "unified diff"])
def test_plume3d_answered_only_in_edits_ends_significantly_better_for_a_fifth_of_the_output_tokens(
        fake, settings, form, monkeypatch):
    """The 361-line example, its recorded steps given as edits: the decay rate computed once per layer and
    the transport loops in storage order save far more than load can hide (one thread a run, so a busy
    machine slows every run alike), and the coder writes at least five times fewer tokens than the whole
    files would take."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result, figures = optimize_in(form, "plume3d", fake, settings, max_iterations=1, confirm_pairs=6)
    assert result.finished
    builds_the_recorded_code(result, "plume3d", form)
    print(saying(form, result, figures))
    edits, whole = coder_tokens_out(result), sum(f["whole"] for f in figures)
    assert figures[0]["lines"] > 300 and edits == sum(f["answer"] for f in figures) and whole >= 5 * edits
    assert result.best["key"] != "000" and result.best["outcome"] == "better", result.best.get("outcome_reason")
    assert result.state["confirmation"]["ratio"]["high"] < 0  # fresh runs of source and best confirm the saving


def test_a_call_waiting_to_be_retried_says_so_on_the_progress_line(fake, program, settings):
    import io

    from app.progress import Progress
    from tests.helpers.model_server import error

    server = fake(by_role()).then(error(429, "Rate limit reached", {"Retry-After": "1"}))
    out = io.StringIO()
    with Progress(out) as progress:
        run_on(server, program, settings, on_step=progress)
    assert "model      waiting for coder (attempt 2 of 6, retry in 1 s): " in out.getvalue()


def test_a_candidate_whose_answers_all_fail_is_discarded_unbuilt(fake, program, settings):
    server = fake(by_role(coder=["I would hoist the loop."] * 2))
    result = run_on(server, program, settings, max_answer_fixes=1)
    first = result.state["candidates"]["001"]
    assert first["status"] == "discarded" and first["reason"].startswith("no usable answer in 2 tries: ")
    assert first["source"] is None and not (result.run_dir / "candidates" / "v001-zero-shot" / "build.log").exists()
    assert result.finished
