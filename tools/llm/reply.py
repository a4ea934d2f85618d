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
    """A failure worth retrying: rate limits, timeouts, dropped connections, server errors."""


class ModelUnavailable(LassiError):
    """The model kept failing after every retry: the run stops, and can be resumed later."""
