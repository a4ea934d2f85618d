"""Model names, the scripted model, retries and the exchange log."""

import json

import pytest

from tools.errors import LassiError
from tools.llm import Models
from tools.llm.models import Retries
from tools.llm.names import check_model, parse_model


def test_model_names_are_provider_and_model():
    spec = parse_model("openai:o3-mini")
    assert (spec.provider, spec.model) == ("openai", "o3-mini")


def test_local_servers_get_their_usual_base_url_unless_one_is_given():
    assert parse_model("ollama:qwen2.5-coder").base_url == "http://localhost:11434/v1"
    assert parse_model("vllm:m", base_url="http://gpu-node:9000/v1").base_url == "http://gpu-node:9000/v1"


@pytest.mark.parametrize("name, message", [("acme:x", "unknown model provider"), ("gpt", "provider:model"),
                                           ("openai:", "provider:model")])
def test_bad_model_names_are_refused(name, message):
    with pytest.raises(LassiError, match=message):
        parse_model(name)


def test_an_openai_model_needs_a_key_or_a_base_url(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(LassiError, match="OPENAI_API_KEY"):
        check_model("openai:o3-mini")
    assert check_model("openai:my-model", base_url="http://localhost:8000/v1").base_url


def scripted(tmp_path, responses: dict) -> Models:
    path = tmp_path / "session.json"
    (tmp_path / "step.cpp").write_text("int main() { return 0; }\n")
    path.write_text(json.dumps({"responses": responses}))
    roles = ("coder", "judge", "summarizer", "planner", "reporter")
    return Models({r: f"scripted:{path}" for r in roles}, tmp_path / "llm.jsonl",
                  retries=Retries(max_retries=2, backoff_s=0.0))


def test_scripted_answers_are_chosen_by_role_and_call_index(tmp_path):
    models = scripted(tmp_path, {"judge": ["first", "second"], "summarizer/code": ["about the code"]})
    assert models.ask("judge", "sys", "p", 0.2, call_index=1).text == "second"
    assert models.ask("summarizer", "sys", "p", 0.2, call_index=0, task="code").text == "about the code"


def test_a_scripted_code_file_becomes_a_fenced_block(tmp_path):
    models = scripted(tmp_path, {"coder": [{"text": "Hoisted the copy.", "code_file": "step.cpp"}]})
    assert models.ask("coder", "s", "p", 0.2, 0).text == "Hoisted the copy.\n\n```cpp\nint main() { return 0; }\n```\n"


def test_running_out_of_scripted_answers_says_which_role(tmp_path):
    models = scripted(tmp_path, {"planner": ["only one"]})
    with pytest.raises(LassiError, match="ran out of answers for 'planner'"):
        models.ask("planner", "s", "p", 0.2, call_index=1)


def test_transient_failures_are_retried_and_logged(tmp_path):
    models = scripted(tmp_path, {"coder": [{"error": "transient", "times": 2}, "finally"]})
    assert models.ask("coder", "s", "p", 0.2, 0).text == "finally"
    log = [json.loads(line) for line in (tmp_path / "llm.jsonl").read_text().splitlines()]
    assert [("error" in r, r["attempt"]) for r in log] == [(True, 0), (True, 1), (False, 2)]


def test_a_model_that_keeps_failing_stops_with_a_clear_message(tmp_path):
    models = scripted(tmp_path, {"coder": [{"error": "transient", "times": 5}, "too late"]})
    with pytest.raises(LassiError, match="failed 3 times for coder"):
        models.ask("coder", "s", "p", 0.2, 0)


def test_every_exchange_is_logged_with_its_figures(tmp_path):
    scripted(tmp_path, {"reporter": ["a comparison"]}).ask("reporter", "system text", "prompt text", 0.2, 0)
    record = json.loads((tmp_path / "llm.jsonl").read_text())
    assert record["role"] == "reporter" and record["prompt"] == "prompt text" and record["response"] == "a comparison"
    assert record["temperature_sent"] == 0.2 and record["tokens_out"] is not None and record["latency_s"] >= 0


def test_a_cached_answer_is_reused_for_the_same_prompt_and_not_for_another(tmp_path):
    from tools.cache import ReplyCache

    models = scripted(tmp_path, {"summarizer/code": ["first answer", "second answer", "third answer"]})
    cache = ReplyCache(tmp_path / "cache")
    assert models.ask("summarizer", "s", "p", 0.2, 0, task="code", cache=cache).text == "first answer"
    assert models.ask("summarizer", "s", "p", 0.2, 1, task="code", cache=cache).text == "first answer"
    assert models.ask("summarizer", "s", "other p", 0.2, 1, task="code", cache=cache).text == "second answer"
    assert models.ask("summarizer", "s", "p", 0.5, 2, task="code", cache=cache).text == "third answer"
    log = [json.loads(line) for line in (tmp_path / "llm.jsonl").read_text().splitlines()]
    assert [r["cache"] for r in log] == ["miss", "hit", "miss", "miss"]
    assert log[1]["cache_key"] == log[0]["cache_key"] and log[1]["cached_at"] == log[0]["time"]


def test_a_cache_that_cannot_be_written_costs_a_call_and_says_why(tmp_path):
    from tools.cache import ReplyCache

    (tmp_path / "a-file").write_text("")
    models = scripted(tmp_path, {"summarizer/code": ["first answer", "second answer"]})
    cache = ReplyCache(tmp_path / "a-file" / "cache")
    assert models.ask("summarizer", "s", "p", 0.2, 0, task="code", cache=cache).text == "first answer"
    assert models.ask("summarizer", "s", "p", 0.2, 1, task="code", cache=cache).text == "second answer"
    record = json.loads((tmp_path / "llm.jsonl").read_text().splitlines()[-1])
    assert record["cache"] == "miss" and "not stored in" in record["cache_error"]
