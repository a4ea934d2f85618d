"""Model access: `provider:model` names, OpenAI-compatible clients, the scripted model, logging."""

from tools.llm.models import Models, Reply
from tools.llm.names import ModelSpec, check_model

__all__ = ["Models", "Reply", "ModelSpec", "check_model"]
