"""Models behind the OpenAI API or an OpenAI-compatible server, through langchain-openai."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.errors import LassiError
from tools.llm.names import OPENAI_API_URL, ModelSpec
from tools.llm.reply import Reply, TransientModelError

# Reasoning models reject a temperature; others are found out by their first refusal.
NO_TEMPERATURE = re.compile(r"^(o\d|gpt-5)", re.I)


@dataclass(frozen=True)
class CallOptions:
    """How every request goes out: how long one may take, and how long an answer may be."""

    timeout_s: float = 300.0
    max_output_tokens: int = 16384


def _chat_model_class():
    """ChatOpenAI keeping the `reasoning_content` (or `reasoning`) field that vLLM, DeepSeek and others add."""
    from langchain_openai import ChatOpenAI

    class Chat(ChatOpenAI):
        def _create_chat_result(self, response, generation_info=None):
            result = super()._create_chat_result(response, generation_info)
            data = response if isinstance(response, dict) else response.model_dump()
            for generation, choice in zip(result.generations, data.get("choices") or []):
                message = choice.get("message") or {}
                if thought := message.get("reasoning_content") or message.get("reasoning"):
                    generation.message.additional_kwargs["reasoning_content"] = str(thought)
            return result

    return Chat


class OpenAIClient:
    def __init__(self, spec: ModelSpec, options: CallOptions = CallOptions()):
        self.spec = spec
        # OpenAI's API takes max_completion_tokens (ChatOpenAI's max_tokens); the compatible servers max_tokens.
        limit = ({"max_tokens": options.max_output_tokens} if spec.provider == "openai"
                 else {"extra_body": {"max_tokens": options.max_output_tokens}})
        self.chat = _chat_model_class()(model=spec.model, base_url=spec.base_url, api_key=spec.key, max_retries=0,
                                        timeout=options.timeout_s, stream_usage=True, **limit)
        self.takes_temperature = not NO_TEMPERATURE.match(spec.model)
        self.takes_schema = True  # structured output, until the server refuses it

    @property
    def label(self) -> str:
        return self.spec.label + (f" @ {self.spec.base_url}" if self.spec.base_url != OPENAI_API_URL else "")

    @property
    def identity(self) -> str:
        """What a cached answer is tied to: the model and the server that serves it."""
        return self.label

    def complete(self, key: str, system: str, prompt: str, temperature: float | None,
                 call_index: int, attempt: int, schema: dict | None = None) -> Reply:
        """One request; `schema` asks for a JSON answer of that shape where the server takes one."""
        import openai
        from langchain_core.messages import HumanMessage, SystemMessage

        messages = [SystemMessage(system), HumanMessage(prompt)]
        sent = temperature if self.takes_temperature else None
        options = {"temperature": sent} if sent is not None else {}
        if schema is not None and self.takes_schema:
            options["response_format"] = {"type": "json_schema", "json_schema": schema}
        try:
            message = self.chat.invoke(messages, **options)
        except openai.BadRequestError as exc:
            refused = str(exc).lower()
            if sent is not None and "temperature" in refused:
                self.takes_temperature = False
                return self.complete(key, system, prompt, temperature, call_index, attempt, schema)
            if "response_format" in options and ("response_format" in refused or "schema" in refused):
                self.takes_schema = False
                return self.complete(key, system, prompt, temperature, call_index, attempt, schema)
            raise LassiError(f"{self.spec.label} refused the request: {_short(exc)}") from None
        except (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError,
                openai.InternalServerError) as exc:
            raise TransientModelError(_short(exc), retry_after_s=_retry_after(exc)) from None
        except openai.AuthenticationError:
            raise LassiError(f"{self.label}: the API key was refused (check {self.spec.key_variable})") from None
        except openai.NotFoundError:
            raise LassiError(f"{self.spec.label}: the server does not know this model") from None
        except openai.APIStatusError as exc:
            raise LassiError(f"{self.spec.label} answered HTTP {exc.status_code}: {_short(exc)}") from None
        usage = getattr(message, "usage_metadata", None) or {}
        return Reply(text=str(message.content), tokens_in=usage.get("input_tokens"),
                     tokens_out=usage.get("output_tokens"), temperature=sent,
                     finish_reason=message.response_metadata.get("finish_reason"),
                     reasoning=message.additional_kwargs.get("reasoning_content", ""))


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
