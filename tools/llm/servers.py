"""Ask a model server which models it serves (`/v1/models`) before a run spends minutes measuring."""

from __future__ import annotations

from tools.errors import LassiError
from tools.llm.names import ModelSpec

LIST_TIMEOUT_S = 10.0


class ServerUnreachable(LassiError):
    """No server answers at a model's base URL."""


def check_served(spec: ModelSpec, timeout_s: float = LIST_TIMEOUT_S) -> None:
    """Stop now when the model's server does not answer or does not serve it; a server without a
    model list (or a key that may not read it) is given the benefit of the doubt."""
    import openai

    client = openai.OpenAI(base_url=spec.base_url, api_key=spec.key, timeout=timeout_s, max_retries=0)
    try:
        served = sorted(model.id for model in client.models.list())
    except openai.APIConnectionError as exc:  # refused, unknown host, or no answer within the timeout
        why = "no answer within" if isinstance(exc, openai.APITimeoutError) else "connection failed;"
        raise ServerUnreachable(f"no model server answers at {spec.base_url} for {spec.label} ({why} the model"
                                f" list asked with a {timeout_s:g} s timeout)") from None
    except openai.AuthenticationError:
        raise LassiError(f"the model server at {spec.base_url} refused the key in {spec.key_variable}"
                         f" for {spec.label}") from None
    except openai.APIStatusError:
        return
    if spec.model not in served and f"{spec.model}:latest" not in served:
        raise LassiError(f"the model server at {spec.base_url} does not serve {spec.model!r}; it serves:"
                         f" {', '.join(served) or 'no models'}")
