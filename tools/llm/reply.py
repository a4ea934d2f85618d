"""What a model call returns, and the error that says 'try again'."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.errors import LassiError

CUT_OFF = ("length", "max_tokens")  # finish reasons of an answer stopped by the output-token limit
_THINKING = re.compile(r"<(think|thinking|reasoning)>.*?(?:</\1>|\Z)\s*", re.S | re.I)


@dataclass
class Reply:
    text: str  # the answer without the model's reasoning
    tokens_in: int | None
    tokens_out: int | None
    temperature: float | None  # as sent; None when the model takes none
    tokens_estimated: bool = False
    finish_reason: str | None = None  # as the server said it: stop, length, ...
    reasoning: str = ""  # the model's thinking (a reasoning_content field or <think> blocks): logged, never passed on

    @property
    def cut_off(self) -> bool:
        return self.finish_reason in CUT_OFF


def without_reasoning(reply: Reply) -> Reply:
    """The reply with <think>...</think> blocks moved from its text to its reasoning.

    An unclosed block (an answer cut off while thinking) is reasoning to its end.
    """
    thoughts = [m.group(0).strip() for m in _THINKING.finditer(reply.text)]
    if not thoughts:
        return reply
    reasoning = "\n\n".join(part for part in (reply.reasoning, *thoughts) if part)
    return Reply(**{**reply.__dict__, "text": _THINKING.sub("", reply.text).strip() + "\n", "reasoning": reasoning})


class TransientModelError(Exception):
    """A failure worth retrying: rate limits, timeouts, dropped connections, server errors.

    `retry_after_s` is the wait the server asked for (a Retry-After header), where it named one.
    """

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ModelUnavailable(LassiError):
    """The model kept failing after every retry: the run stops, and can be resumed later."""
