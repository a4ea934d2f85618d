"""One object for every model call of a run: a model per role, retries, and the exchange log."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from tools.cache import ReplyCache, cache_key
from tools.llm.names import ModelSpec, parse_model
from tools.llm.openai_client import OpenAIClient
from tools.llm.reply import ModelUnavailable, Reply, TransientModelError
from tools.llm.scripted import ScriptedClient
from tools.rundir import append_jsonl

MAX_ASKED_WAIT_S = 300.0  # a server asking for longer gets this; the retry budget still bounds the run


@cache
def _client(spec: ModelSpec) -> OpenAIClient | ScriptedClient:
    """One client per model for the whole process, so what it learns (no temperature) is kept."""
    return ScriptedClient(spec.model) if spec.provider == "scripted" else OpenAIClient(spec)


def _wait_before_retry(attempt: int, backoff_s: float, asked_s: float | None) -> float:
    """Exponential backoff with jitter, and never less than the server asked for (up to MAX_ASKED_WAIT_S)."""
    wait = backoff_s * 2**attempt * random.uniform(0.5, 1.5)
    return max(wait, min(asked_s, MAX_ASKED_WAIT_S)) if asked_s is not None else wait


class Models:
    """Routes each role to its model; every exchange is appended to `log_path` (llm.jsonl)."""

    def __init__(self, names: dict[str, str], log_path: Path, base_url: str | None = None,
                 max_retries: int = 5, backoff_s: float = 2.0):
        self.names, self.log_path, self.base_url = names, log_path, base_url
        self.max_retries, self.backoff_s = max_retries, backoff_s

    def client(self, role: str) -> OpenAIClient | ScriptedClient:
        return _client(parse_model(self.names[role], self.base_url))

    def ask(self, role: str, system: str, prompt: str, temperature: float | None, call_index: int,
            task: str = "", about: dict | None = None, cache: ReplyCache | None = None) -> Reply:
        """One exchange, retried on transient errors with exponential backoff and jitter.

        With a cache, an answer stored for the same model, prompts and temperature is returned
        without a call (logged as a cache hit), and a fresh answer is stored for the next run.
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
        for attempt in range(self.max_retries + 1):
            try:
                reply = client.complete(key, system, prompt, temperature, call_index, attempt)
                break
            except TransientModelError as exc:
                self._log(key, client.label, call_index, attempt, temperature, system, prompt, error=str(exc),
                          about=about)
                if attempt == self.max_retries:
                    raise ModelUnavailable(f"{client.label} failed {attempt + 1} times for {key} ({exc})") from None
                time.sleep(_wait_before_retry(attempt, self.backoff_s, exc.retry_after_s))
        latency_s, answered_at, note = round(time.perf_counter() - started, 3), _now(), None
        if cache is not None:
            failure = cache.put(stored_under, {"time": answered_at, "model": client.label, "key": key,
                                               "temperature_sent": reply.temperature, "text": reply.text})
            note = {"cache": "miss", "cache_key": stored_under, **({"cache_error": failure} if failure else {})}
        self._log(key, client.label, call_index, attempt, temperature, system, prompt, reply=reply, about=about,
                  latency_s=latency_s, cache=note, at=answered_at)
        return reply

    def _log(self, key, label, call_index, attempt, temperature, system, prompt, reply: Reply | None = None,
             error: str | None = None, about: dict | None = None, latency_s: float | None = None,
             cache: dict | None = None, at: str | None = None) -> None:
        record = {"time": at or _now(), "key": key,
                  "role": key.split("/")[0], "model": label, "call": call_index, "attempt": attempt,
                  "temperature_requested": temperature, **(about or {}), "system": system, "prompt": prompt}
        if reply is not None:
            record.update(temperature_sent=reply.temperature, response=reply.text, tokens_in=reply.tokens_in,
                          tokens_out=reply.tokens_out, tokens_estimated=reply.tokens_estimated,
                          latency_s=latency_s, **(cache or {}))
        else:
            record["error"] = error
        append_jsonl(self.log_path, record)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
