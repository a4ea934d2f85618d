"""What a model call returns, and the error that says 'try again'."""

from __future__ import annotations

from dataclasses import dataclass

from tools.errors import LassiError


@dataclass
class Reply:
    text: str
    tokens_in: int | None
    tokens_out: int | None
    temperature: float | None  # as sent; None when the model takes none
    tokens_estimated: bool = False


class TransientModelError(Exception):
    """A failure worth retrying: rate limits, timeouts, dropped connections, server errors.

    `retry_after_s` is the wait the server asked for (a Retry-After header), where it named one.
    """

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ModelUnavailable(LassiError):
    """The model kept failing after every retry: the run stops, and can be resumed later."""
