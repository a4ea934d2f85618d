"""Model access: `provider:model` names, OpenAI-compatible clients, the scripted model for tests
and demos, one Models object per run (a model per role, retries, the llm.jsonl log), token usage,
and the code blocks of an answer.
"""

from tools.llm.models import Models, Reply
from tools.llm.names import ModelSpec, check_model

__all__ = ["Models", "Reply", "ModelSpec", "check_model"]
