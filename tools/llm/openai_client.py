"""Models behind the OpenAI API or an OpenAI-compatible server, through langchain-openai."""

from __future__ import annotations

import os
import re

from tools.errors import LassiError
from tools.llm.names import ModelSpec
from tools.llm.reply import Reply, TransientModelError

# Reasoning models reject a temperature; others are found out by their first refusal.
NO_TEMPERATURE = re.compile(r"^(o\d|gpt-5)", re.I)
REQUEST_TIMEOUT_S = 900


class OpenAIClient:
    def __init__(self, spec: ModelSpec):
        from langchain_openai import ChatOpenAI

        self.spec = spec
        key = os.environ.get("OPENAI_API_KEY") or ("not-needed" if spec.base_url else None)
        self.chat = ChatOpenAI(model=spec.model, base_url=spec.base_url, api_key=key, max_retries=0,
                               timeout=REQUEST_TIMEOUT_S)
        self.takes_temperature = not NO_TEMPERATURE.match(spec.model)

    @property
    def label(self) -> str:
        return self.spec.label + (f" @ {self.spec.base_url}" if self.spec.base_url else "")

    @property
    def identity(self) -> str:
        """What a cached answer is tied to: the model and the server that serves it."""
        return self.label

    def complete(self, key: str, system: str, prompt: str, temperature: float | None,
                 call_index: int, attempt: int) -> Reply:
        import openai
        from langchain_core.messages import HumanMessage, SystemMessage

        messages = [SystemMessage(system), HumanMessage(prompt)]
        sent = temperature if self.takes_temperature else None
        try:
            message = self.chat.invoke(messages, **({"temperature": sent} if sent is not None else {}))
        except openai.BadRequestError as exc:
            if sent is not None and "temperature" in str(exc).lower():
                self.takes_temperature = False
                return self.complete(key, system, prompt, temperature, call_index, attempt)
            raise LassiError(f"{self.spec.label} refused the request: {_short(exc)}") from None
        except (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError,
                openai.InternalServerError) as exc:
            raise TransientModelError(_short(exc), retry_after_s=_retry_after(exc)) from None
        except openai.AuthenticationError:
            raise LassiError(f"{self.spec.label}: the API key was refused (check OPENAI_API_KEY)") from None
        except openai.NotFoundError:
            raise LassiError(f"{self.spec.label}: the server does not know this model") from None
        except openai.APIStatusError as exc:
            raise LassiError(f"{self.spec.label} answered HTTP {exc.status_code}: {_short(exc)}") from None
        usage = getattr(message, "usage_metadata", None) or {}
        return Reply(text=str(message.content), tokens_in=usage.get("input_tokens"),
                     tokens_out=usage.get("output_tokens"), temperature=sent)


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _retry_after(exc: Exception) -> float | None:
    """The wait a rate-limited server asked for, in seconds: `retry-after-ms`, or `retry-after` in seconds.

    The HTTP-date form of Retry-After is left to the usual backoff.
    """
    response = getattr(exc, "response", None)
    headers = response.headers if response is not None else {}
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers[name]) * scale)
        except (KeyError, ValueError):
            continue
    return None
