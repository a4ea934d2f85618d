"""Conformance with OpenAI-compatible servers: one test per answer shape or fault, against a local fake
server (tests/helpers/model_server.py), each saying what the tool does with it.

The rows that need a whole run (an edit fix goes back to the model, a cut-off answer is never built,
a resume in a fresh shell) are in tests/e2e/test_model_servers.py.
"""

from __future__ import annotations

import json
import time

import pytest

from nodes.judge import VERDICT_SCHEMA, parse_verdict
from tests.helpers.model_server import FakeServer, answer, error, hang
from tools.errors import LassiError
from tools.llm import Models
from tools.llm.edits import EditError, apply_answer
from tools.llm.models import Retries
from tools.llm.names import parse_model
from tools.llm.openai_client import CallOptions
from tools.llm.reply import ModelUnavailable
from tools.llm.servers import ServerUnreachable, check_served

ROLES = ("coder", "judge", "summarizer", "planner", "reporter")
MAIN = "#include <cstdio>\nint main() {\n  int x = 1;\n  std::printf(\"%d\\n\", x);\n  return 0;\n}\n"
HEADER = "#pragma once\ninline int twice(int v) { return 2 * v; }\n"
FILES = {"main.cpp": MAIN, "grid.h": HEADER}


@pytest.fixture
def server():
    fake = FakeServer(lifetime_s=120)
    yield fake
    fake.stop()


def models(server, tmp_path, model="vllm:local-coder", on_wait=None, retries=Retries(2, 0.0, 60.0),
           options=CallOptions(timeout_s=30.0, max_output_tokens=4096), api_key_env=None) -> Models:
    return Models({r: model for r in ROLES}, tmp_path / "llm.jsonl", {r: server.url for r in ROLES}, retries,
                  options, api_key_env, on_wait)


def coder_answer(server, tmp_path, text: str) -> dict[str, str]:
    """What the answer, served over HTTP, does to the program's files (main.cpp may be edited)."""
    server.then(answer(text))
    reply = models(server, tmp_path).ask("coder", "s", "p", 0.2, 0)
    return apply_answer(reply.text, FILES, ["main.cpp"], "cpp")


def log(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "llm.jsonl").read_text().splitlines()]


# -- answer shapes ---------------------------------------------------------------------------------

def test_prose_around_one_block_gives_that_block_as_the_whole_file(server, tmp_path):
    applied = coder_answer(server, tmp_path, "I swapped the loops.\n\n```cpp\nint main() { return 0; }\n```\n"
                                             "This should be faster.")
    assert applied.files == {"main.cpp": "int main() { return 0; }\n"} and applied.form == "whole file"


def test_two_blocks_for_two_files_are_matched_by_name_and_a_changed_read_only_file_is_refused(server, tmp_path):
    longer_header = HEADER + "inline int thrice(int v) { return 3 * v; }\n" * 5
    text = f"grid.h\n```cpp\n{longer_header}```\n\nmain.cpp\n```cpp\nint main() {{ return 0; }}\n```\n"
    with pytest.raises(EditError, match="grid.h, which may not be edited") as refused:
        coder_answer(server, tmp_path, text)
    assert "thrice" in refused.value.piece  # the refused block goes back to the model; main.cpp is untouched


def test_a_header_shown_again_unchanged_beside_main_lets_main_through(server, tmp_path):
    text = f"grid.h\n```cpp\n{HEADER}```\n\nmain.cpp\n```cpp\nint main() {{ return 0; }}\n```\n"
    assert coder_answer(server, tmp_path, text).files == {"main.cpp": "int main() { return 0; }\n"}


def test_a_unified_diff_is_applied_to_the_file_it_names(server, tmp_path):
    diff = ("```diff\n--- a/main.cpp\n+++ b/main.cpp\n@@ -2,3 +2,3 @@\n int main() {\n-  int x = 1;\n+  int x = 2;\n"
            "   std::printf(\"%d\\n\", x);\n```\n")
    applied = coder_answer(server, tmp_path, "Only x changes:\n" + diff)
    assert applied.files["main.cpp"] == MAIN.replace("x = 1", "x = 2") and applied.form == "unified diff"


def test_search_replace_blocks_are_applied_in_order(server, tmp_path):
    text = ("main.cpp\n```cpp\n<<<<<<< SEARCH\n  int x = 1;\n=======\n  int x = 3;\n>>>>>>> REPLACE\n```\n\n"
            "main.cpp\n```cpp\n<<<<<<< SEARCH\n  return 0;\n=======\n  return x - 3;\n>>>>>>> REPLACE\n```\n")
    applied = coder_answer(server, tmp_path, text)
    assert applied.files["main.cpp"] == MAIN.replace("x = 1", "x = 3").replace("return 0", "return x - 3")
    assert applied.form == "search/replace"


@pytest.mark.parametrize("text, reason", [
    ("main.cpp\n```cpp\n<<<<<<< SEARCH\n  int y = 1;\n=======\n  int y = 2;\n>>>>>>> REPLACE\n```", "was not found"),
    ("main.cpp\n```cpp\n<<<<<<< SEARCH\n  \n=======\n  int y = 2;\n>>>>>>> REPLACE\n```", "is empty"),
    ("```diff\n--- a/main.cpp\n+++ b/main.cpp\n@@ -1,1 +1,1 @@\n-int nothing;\n+int something;\n```", "were not found"),
    ("```diff\n--- a/util.cpp\n+++ b/util.cpp\n@@ -1 +1 @@\n-a\n+b\n```", "not a file of this program"),
    ("I would hoist the copy out of the loop.", "held no code block"),
])
def test_an_edit_that_does_not_apply_says_why_and_shows_the_failing_piece(server, tmp_path, text, reason):
    with pytest.raises(EditError, match=reason) as failed:
        coder_answer(server, tmp_path, text)
    assert "```" not in text or failed.value.piece.strip()


def test_an_ambiguous_search_text_is_refused():
    doubled = "int a = 0;\nint a = 0;\n"
    block = "<<<<<<< SEARCH\nint a = 0;\n=======\nint a = 1;\n>>>>>>> REPLACE\n"
    with pytest.raises(EditError, match="matches 2 places"):
        apply_answer(block, {"main.cpp": doubled}, ["main.cpp"], "cpp")


def test_an_answer_cut_off_at_length_is_recorded_with_its_finish_reason_and_the_limit_is_sent(server, tmp_path):
    server.then(answer("```cpp\nint main() {\n  for (int i = 0;", finish_reason="length"))
    reply = models(server, tmp_path).ask("coder", "s", "p", 0.2, 0)
    assert reply.cut_off and log(tmp_path)[-1]["finish_reason"] == "length"
    assert server.chats[0]["max_tokens"] == 4096  # a compatible server gets max_tokens


def test_openai_gets_its_output_limit_as_max_completion_tokens(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    models(server, tmp_path, model="openai:gpt-4.1").ask("coder", "s", "p", 0.2, 0)
    assert server.chats[0]["max_completion_tokens"] == 4096 and "max_tokens" not in server.chats[0]


def test_think_blocks_and_reasoning_content_stay_in_the_log_and_out_of_the_answer(server, tmp_path):
    server.then(answer("<think>Maybe swap the loops? Yes.</think>\nSwap the loops.", reasoning="server-side thought"))
    reply = models(server, tmp_path).ask("planner", "s", "p", 0.2, 0)
    assert reply.text == "Swap the loops.\n"
    record = log(tmp_path)[-1]
    assert "<think>" in record["response"] and "Maybe swap" in record["reasoning"]
    assert "server-side thought" in record["reasoning"]


def test_an_unclosed_think_block_is_all_reasoning(server, tmp_path):
    server.then(answer("<think>Let me think about the loop order and", finish_reason="length"))
    assert models(server, tmp_path).ask("planner", "s", "p", 0.2, 0).text.strip() == ""


def test_reasoning_never_reaches_the_summary_cache(server, tmp_path):
    from tools.cache import ReplyCache

    cache = ReplyCache(tmp_path / "cache")
    server.then(answer("<think>secret musing</think>The machine has 2 cores."))
    models(server, tmp_path).ask("summarizer", "s", "p", 0.2, 0, task="system", cache=cache)
    stored = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert "2 cores" in stored and "secret musing" not in stored


# -- the judge's verdict ---------------------------------------------------------------------------

def test_the_judge_asks_for_a_json_verdict_and_reads_it(server, tmp_path):
    server.then(answer(json.dumps({"reasons": "same work, same output", "verdict": "VALID"})))
    reply = models(server, tmp_path).ask("judge", "s", "p", 0.0, 0, schema=VERDICT_SCHEMA)
    assert server.chats[0]["response_format"]["type"] == "json_schema"
    assert parse_verdict(reply.text) == {"ok": True, "reason": "VALID: same work, same output"}


def test_a_server_that_refuses_the_schema_is_asked_in_text(server, tmp_path):
    server.then(error(400, "response_format json_schema is not supported"), answer("Same.\nVERDICT: VALID"))
    reply = models(server, tmp_path, model="vllm:no-schema").ask("judge", "s", "p", 0.0, 0, schema=VERDICT_SCHEMA)
    assert "response_format" not in server.chats[1] and parse_verdict(reply.text)["ok"] is True


def test_a_verdict_followed_by_a_polite_line_is_read(server, tmp_path):
    server.then(answer("Same work and output.\nVERDICT: VALID\nLet me know if you need more detail."))
    assert parse_verdict(models(server, tmp_path).ask("judge", "s", "p", 0.0, 0).text)["ok"] is True


def test_no_verdict_is_invalid(server, tmp_path):
    server.then(answer("The two programs look alike to me."))
    verdict = parse_verdict(models(server, tmp_path).ask("judge", "s", "p", 0.0, 0).text)
    assert verdict["ok"] is False and "no VERDICT line" in verdict["reason"]


@pytest.mark.parametrize("text", ["Hard to say.\nVERDICT: VALID or INVALID", "VERDICT: VALID\nVERDICT: INVALID",
                                  "Hmm.\nVERDICT: VALID/INVALID\nSorry."])
def test_both_verdicts_as_the_final_one_is_invalid(server, tmp_path, text):
    server.then(answer(text))
    assert parse_verdict(models(server, tmp_path).ask("judge", "s", "p", 0.0, 0).text)["ok"] is False


# -- server faults ---------------------------------------------------------------------------------

def test_a_400_temperature_refusal_is_asked_again_without_one(server, tmp_path):
    server.then(error(400, "Unsupported parameter: 'temperature' is not supported with this model."))
    reply = models(server, tmp_path).ask("coder", "s", "p", 0.2, 0)
    assert reply.temperature is None and "temperature" in server.chats[0] and "temperature" not in server.chats[1]


def test_a_429_waits_as_long_as_retry_after_asks_and_says_so(server, tmp_path):
    heard = []
    server.then(error(429, "Rate limit reached", {"Retry-After": "1"}))
    models(server, tmp_path, on_wait=heard.append).ask("coder", "s", "p", 0.2, 0)
    first, second = [r["at"] for r in server.requests]
    assert second - first >= 1.0  # the test's own backoff is 0 s
    assert heard and heard[0].startswith("waiting for coder (attempt 2 of 3, retry in 1 s)")


def test_a_500_then_success_is_retried(server, tmp_path):
    server.then(error(500, "internal error"))
    assert models(server, tmp_path).ask("coder", "s", "p", 0.2, 0).text == "an answer"
    assert len(server.chats) == 2 and [r.get("error") is not None for r in log(tmp_path)] == [True, False]


def test_a_hang_past_the_request_timeout_is_given_up_and_retried(server, tmp_path):
    server.then(hang(30.0))
    started = time.monotonic()
    reply = models(server, tmp_path, options=CallOptions(timeout_s=1.0)).ask("judge", "s", "p", 0.0, 0)
    assert reply.text == "an answer" and time.monotonic() - started < 20
    assert "timed out" in log(tmp_path)[0]["error"].lower()


def test_the_retry_budget_stops_a_server_that_keeps_hanging(server, tmp_path):
    server.then(*[hang(30.0)] * 5)
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match="failed"):
        models(server, tmp_path, retries=Retries(5, 0.0, 2.5), options=CallOptions(timeout_s=1.0)).ask(
            "coder", "s", "p", 0.2, 0)
    assert time.monotonic() - started < 20 and len(server.chats) < 5


def test_a_wrong_model_name_stops_at_once_listing_the_served_models(server):
    with pytest.raises(LassiError, match="does not serve 'qwen-typo'; it serves: local-coder"):
        check_served(parse_model("vllm:qwen-typo", server.url))


def test_an_ollama_tag_left_off_matches_latest(tmp_path):
    fake = FakeServer(models=("qwen2.5-coder:latest",), lifetime_s=30)
    try:
        check_served(parse_model("ollama:qwen2.5-coder", fake.url))
    finally:
        fake.stop()


def test_no_server_is_one_clear_error():
    gone = FakeServer(lifetime_s=30)
    url = gone.url
    gone.stop()
    with pytest.raises(ServerUnreachable, match=f"no model server answers at {url}"):
        check_served(parse_model("vllm:local-coder", url), timeout_s=2.0)


def test_a_server_without_a_model_list_is_given_the_benefit_of_the_doubt():
    fake = FakeServer(models=None, lifetime_s=30)
    try:
        check_served(parse_model("llamacpp:any", fake.url))
    finally:
        fake.stop()


# -- keys stay with their hosts --------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["vllm", "ollama", "lmstudio", "llamacpp"])
def test_a_local_server_never_receives_the_openai_key(server, tmp_path, monkeypatch, provider):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-openai-key")
    models(server, tmp_path, model=f"{provider}:local-coder").ask("coder", "s", "p", 0.2, 0)
    check_served(parse_model(f"{provider}:local-coder", server.url))
    assert len(server.requests) == 2
    assert not any("sk-secret-openai-key" in json.dumps(r["headers"]) for r in server.requests)


def test_a_local_server_gets_its_own_key_variable(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-openai-key")
    monkeypatch.setenv("VLLM_API_KEY", "vllm-key")
    models(server, tmp_path).ask("coder", "s", "p", 0.2, 0)
    assert server.requests[0]["headers"]["authorization"] == "Bearer vllm-key"


def test_a_key_variable_named_by_the_user_is_the_one_sent(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-openai-key")
    monkeypatch.setenv("GATEWAY_TOKEN", "gateway-key")
    models(server, tmp_path, model="ollama:local-coder", api_key_env="GATEWAY_TOKEN").ask("coder", "s", "p", 0.2, 0)
    assert server.requests[0]["headers"]["authorization"] == "Bearer gateway-key"


def test_the_openai_provider_sends_the_openai_key_to_the_base_url_given_for_it(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-gateway-paired")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    Models({r: "openai:gpt-4.1" for r in ROLES}, tmp_path / "llm.jsonl").ask("coder", "s", "p", 0.2, 0)
    assert server.requests[0]["headers"]["authorization"] == "Bearer sk-gateway-paired"


def test_a_call_streamed_as_in_studio_counts_its_tokens(server, tmp_path):
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class Talk(TypedDict, total=False):
        text: str

    def speak(state: Talk) -> Talk:
        return {"text": models(server, tmp_path).ask("planner", "s", "p", 0.2, 0).text}

    graph = StateGraph(Talk)
    graph.add_node("speak", speak)
    graph.add_edge(START, "speak")
    graph.add_edge("speak", END)
    streamed = list(graph.compile().stream({}, stream_mode="messages"))  # what langgraph dev asks for
    assert streamed and server.chats[0]["stream"] is True
    record = log(tmp_path)[-1]
    assert record["response"] == "an answer" and record["tokens_out"] == 2 and record["finish_reason"] == "stop"
