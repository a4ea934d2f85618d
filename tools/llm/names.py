"""Model names of the form `provider:model`, checked before a run starts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tools.errors import LassiError
from tools.llm.scripted import load_script

# Servers that speak the OpenAI API on a local port; a base URL given by the user wins.
LOCAL_SERVERS = {
    "ollama": "http://localhost:11434/v1",
    "vllm": "http://localhost:8000/v1",
    "lmstudio": "http://localhost:1234/v1",
    "llamacpp": "http://localhost:8080/v1",
}
PROVIDERS = ("openai", "scripted", *LOCAL_SERVERS)


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    model: str  # for `scripted`, the path of the session file
    base_url: str | None = None

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_model(name: str, base_url: str | None = None) -> ModelSpec:
    provider, sep, model = name.partition(":")
    if not sep or not model:
        raise LassiError(f"model {name!r} is not of the form provider:model (for example openai:o3-mini)")
    if provider not in PROVIDERS:
        raise LassiError(f"unknown model provider {provider!r} in {name!r}: use one of {', '.join(PROVIDERS)}")
    if provider == "scripted":
        return ModelSpec(provider, str(Path(model).expanduser().resolve()))
    url = base_url or (os.environ.get("OPENAI_BASE_URL") if provider == "openai" else LOCAL_SERVERS[provider])
    return ModelSpec(provider, model, url or None)


def check_model(name: str, base_url: str | None = None) -> ModelSpec:
    """Parse a model name and make sure it can be used: the script exists, the key is set."""
    spec = parse_model(name, base_url)
    if spec.provider == "scripted":
        if not Path(spec.model).is_file():
            raise LassiError(f"scripted model file not found: {spec.model}")
        load_script(spec.model)  # a malformed session is reported now, not hours into the run
    if spec.provider == "openai" and not spec.base_url and not os.environ.get("OPENAI_API_KEY"):
        raise LassiError(f"{spec.label} needs OPENAI_API_KEY (set it in the environment or in .env),"
                         " or a {setting} for an OpenAI-compatible server", setting="base_url")
    return spec
