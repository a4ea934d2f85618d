"""The OpenAI-compatible client against a local fake server: usage, temperatures, refusals.

The conformance suite (test_model_conformance.py) has a test per answer shape and server fault.
"""

from __future__ import annotations

import pytest

from tests.helpers.model_server import FakeServer, error
from tools.llm import Models
from tools.llm.models import Retries


@pytest.fixture
def server():
    fake = FakeServer(lifetime_s=60)
    yield fake
    fake.stop()


def models(server, tmp_path, model: str = "vllm:local-coder") -> Models:
    roles = ("coder", "judge", "summarizer", "planner", "reporter")
    return Models({r: model for r in roles}, tmp_path / "llm.jsonl", base_urls={r: server.url for r in roles},
                  retries=Retries(max_retries=2, backoff_s=0.0))


def test_an_answer_comes_back_with_its_token_usage_and_temperature(server, tmp_path):
    reply = models(server, tmp_path).ask("coder", "be brief", "write code", 0.4, 0)
    assert reply.text == "an answer" and (reply.tokens_in, reply.tokens_out) == (11, 2)
    assert server.chats[0]["temperature"] == 0.4 and server.chats[0]["model"] == "local-coder"


def test_reasoning_models_are_never_sent_a_temperature(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    reply = models(server, tmp_path, "openai:o3-mini").ask("judge", "s", "p", 0.2, 0)
    assert reply.temperature is None and "temperature" not in server.chats[0]


def test_any_other_refusal_is_one_clear_error(server, tmp_path):
    from tools.errors import LassiError

    server.then(error(403, "This key may not use this model"))
    with pytest.raises(LassiError, match="answered HTTP 403: .*may not use this model"):
        models(server, tmp_path).ask("coder", "s", "p", 0.2, 0)
