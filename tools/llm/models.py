"""One object for every model call of a run: a model per role, retries, and the exchange log."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from tools.cache import ReplyCache, cache_key
from tools.llm.names import ModelSpec, parse_model
from tools.llm.openai_client import CallOptions, OpenAIClient
from tools.llm.reply import ModelUnavailable, Reply, TransientModelError, without_reasoning
from tools.llm.scripted import ScriptedClient
from tools.rundir import append_jsonl
from tools.secrets import mask

MAX_ASKED_WAIT_S = 300.0  # a server asking for longer gets this; the retry budget still bounds the run


@cache
def _client(spec: ModelSpec, options: CallOptions) -> OpenAIClient | ScriptedClient:
    """One client per model for the whole process, so what it learns (no temperature) is kept."""
    return ScriptedClient(spec.model) if spec.provider == "scripted" else OpenAIClient(spec, options)


def _wait_before_retry(attempt: int, backoff_s: float, asked_s: float | None) -> float:
    """Exponential backoff with jitter, and never less than the server asked for (up to MAX_ASKED_WAIT_S)."""
    wait = backoff_s * 2**attempt * random.uniform(0.5, 1.5)
    return max(wait, min(asked_s, MAX_ASKED_WAIT_S)) if asked_s is not None else wait


@dataclass(frozen=True)
class Retries:
    """How a failing call is tried again: at most `attempts - 1` retries, within `budget_s` seconds in all."""

    max_retries: int = 5
    backoff_s: float = 2.0
    budget_s: float = 900.0


class Models:
    """Routes each role to its model and server; every exchange is appended to `log_path` (llm.jsonl).

    `base_urls` gives each role's server (None: the provider's default). `on_wait` hears, in words,
    that a call is waiting to be tried again ("waiting for coder (attempt 2 of 6, retry in 7 s)").
    """

    def __init__(self, names: dict[str, str], log_path: Path, base_urls: dict[str, str | None] | None = None,
                 retries: Retries = Retries(), options: CallOptions = CallOptions(), api_key_env: str | None = None,
                 on_wait: Callable[[str], None] | None = None):
        self.names, self.log_path, self.base_urls = names, log_path, base_urls or {}
        self.retries, self.options, self.api_key_env = retries, options, api_key_env
        self.on_wait = on_wait or (lambda text: None)

    def spec(self, role: str) -> ModelSpec:
        return parse_model(self.names[role], self.base_urls.get(role), self.api_key_env)

    def client(self, role: str) -> OpenAIClient | ScriptedClient:
        return _client(self.spec(role), self.options)

    def ask(self, role: str, system: str, prompt: str, temperature: float | None, call_index: int,
            task: str = "", about: dict | None = None, cache: ReplyCache | None = None,
            schema: dict | None = None) -> Reply:
        """One exchange, retried on transient errors with exponential backoff and jitter.

        With a cache, an answer stored for the same model, prompts and temperature is returned
        without a call (logged as a cache hit), and a fresh answer is stored for the next run.
        The reply's text never holds the model's reasoning; llm.jsonl keeps both.
        """
        key = f"{role}/{task}" if task else role
        client = self.client(role)
        started = time.perf_counter()
        stored_under = None
        if cache is not None:
            stored_under = cache_key(model=client.identity, prompt_version=(about or {}).get("prompt_version"),
                                     system=system, prompt=prompt, temperature=temperature)
            if (hit := cache.get(stored_under)) is not None:
                reply = Reply(text=hit["text"], tokens_in=0, tokens_out=0, temperature=hit.get("temperature_sent"))
                self._log(key, client.label, call_index, 0, temperature, system, prompt, reply=reply, about=about,
                          latency_s=round(time.perf_counter() - started, 3),
                          cache={"cache": "hit", "cache_key": stored_under, "cached_at": hit.get("time")})
                return reply
        raw, attempt = self._send(client, key, system, prompt, temperature, call_index, about, schema, started)
        reply = without_reasoning(raw)
        latency_s, answered_at, note = round(time.perf_counter() - started, 3), _now(), None
        if cache is not None and not reply.cut_off:  # a cut-off answer is never served again as if whole
            failure = cache.put(stored_under, {"time": answered_at, "model": client.label, "key": key,
                                               "temperature_sent": reply.temperature, "text": reply.text})
            note = {"cache": "miss", "cache_key": stored_under, **({"cache_error": failure} if failure else {})}
        self._log(key, client.label, call_index, attempt, temperature, system, prompt, reply=raw, about=about,
                  latency_s=latency_s, cache=note, at=answered_at, reasoning=reply.reasoning)
        return reply

    def _send(self, client, key, system, prompt, temperature, call_index, about, schema,
              started) -> tuple[Reply, int]:
        """The one place a prompt goes out to a model: tried until it answers or the retries or their time run
        out. Returns the answer and the attempt that gave it. No secret value goes out, whatever quoted it."""
        system, prompt = mask(system), mask(prompt)
        retries = self.retries
        for attempt in range(retries.max_retries + 1):
            try:
                return client.complete(key, system, prompt, temperature, call_index, attempt, schema), attempt
            except TransientModelError as exc:
                self._log(key, client.label, call_index, attempt, temperature, system, prompt, error=str(exc),
                          about=about)
                wait = _wait_before_retry(attempt, retries.backoff_s, exc.retry_after_s)
                spent = time.perf_counter() - started
                if attempt == retries.max_retries or spent + wait > retries.budget_s:
                    raise ModelUnavailable(f"{client.label} failed {attempt + 1} times for {key} in {spent:.0f} s"
                                           f" ({exc})") from None
                self.on_wait(f"waiting for {key.split('/')[0]} (attempt {attempt + 2} of {retries.max_retries + 1},"
                             f" retry in {wait:.0f} s): {exc}")
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _log(self, key, label, call_index, attempt, temperature, system, prompt, reply: Reply | None = None,
             error: str | None = None, about: dict | None = None, latency_s: float | None = None,
             cache: dict | None = None, at: str | None = None, reasoning: str = "") -> None:
        """The one place an exchange is written to llm.jsonl: the prompts as sent (secret values masked), the
        answer as received."""
        system, prompt = mask(system), mask(prompt)
        record = {"time": at or _now(), "key": key,
                  "role": key.split("/")[0], "model": label, "call": call_index, "attempt": attempt,
                  "temperature_requested": temperature, **(about or {}), "system": system, "prompt": prompt}
        if reply is not None:
            record.update(temperature_sent=reply.temperature, response=reply.text, tokens_in=reply.tokens_in,
                          tokens_out=reply.tokens_out, tokens_estimated=reply.tokens_estimated,
                          finish_reason=reply.finish_reason, latency_s=latency_s, **(cache or {}))
            if reasoning:
                record["reasoning"] = reasoning
        else:
            record["error"] = mask(error or "")
        append_jsonl(self.log_path, record)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
