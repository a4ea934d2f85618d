"""The OpenAI-compatible client against a local fake server: answers, refused temperatures, rate limits."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools.llm import Models


class FakeServer:
    """Answers /v1/chat/completions; a queue of (status, body[, headers]) lets a test script failures first."""

    def __init__(self):
        self.requests: list[dict] = []
        self.arrivals: list[float] = []
        self.replies: list[tuple[int, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.arrivals.append(time.monotonic())
                status, reply, *headers = server.replies.pop(0) if server.replies else (200, completion("an answer"))
                data = json.dumps(reply).encode()
                self.send_response(status)
                for name, value in (headers[0] if headers else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


def completion(text: str) -> dict:
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}


def error(status: int, message: str, param: str | None = None) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.httpd.shutdown()


def models(server, tmp_path, model: str = "vllm:local-coder") -> Models:
    roles = ("coder", "judge", "summarizer", "planner", "reporter")
    return Models({r: model for r in roles}, tmp_path / "llm.jsonl", base_url=server.url, backoff_s=0.0,
                  max_retries=2)


def test_an_answer_comes_back_with_its_token_usage_and_temperature(server, tmp_path):
    reply = models(server, tmp_path).ask("coder", "be brief", "write code", 0.4, 0)
    assert reply.text == "an answer" and (reply.tokens_in, reply.tokens_out) == (11, 3)
    assert server.requests[0]["temperature"] == 0.4 and server.requests[0]["model"] == "local-coder"


def test_a_model_that_refuses_a_temperature_is_asked_again_without_one(server, tmp_path):
    server.replies.append(error(400, "Unsupported parameter: 'temperature' is not supported with this model.",
                                "temperature"))
    reply = models(server, tmp_path).ask("coder", "s", "p", 0.2, 0)
    assert reply.text == "an answer" and reply.temperature is None
    assert "temperature" in server.requests[0] and "temperature" not in server.requests[1]


def test_reasoning_models_are_never_sent_a_temperature(server, tmp_path):
    reply = models(server, tmp_path, "openai:o3-mini").ask("judge", "s", "p", 0.2, 0)
    assert reply.temperature is None and "temperature" not in server.requests[0]


def test_rate_limits_are_retried(server, tmp_path):
    server.replies.append(error(429, "Rate limit reached"))
    assert models(server, tmp_path).ask("planner", "s", "p", 0.2, 0).text == "an answer"
    assert len(server.requests) == 2


def test_a_rate_limited_call_waits_as_long_as_the_server_asks(server, tmp_path):
    status, body = error(429, "Rate limit reached")
    server.replies.append((status, body, {"Retry-After": "0.4"}))
    assert models(server, tmp_path).ask("planner", "s", "p", 0.2, 0).text == "an answer"
    first, second = server.arrivals
    assert second - first >= 0.4  # the test's own backoff is 0 s


def test_any_other_refusal_is_one_clear_error(server, tmp_path):
    from tools.errors import LassiError

    server.replies.append(error(403, "This key may not use this model"))
    with pytest.raises(LassiError, match="answered HTTP 403: .*may not use this model"):
        models(server, tmp_path).ask("coder", "s", "p", 0.2, 0)
