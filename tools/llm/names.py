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
OPENAI_API_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "EMPTY"  # the SDK wants some key; servers that need none ignore it


def key_variable(provider: str, api_key_env: str | None = None) -> str:
    """The environment variable whose key goes to this provider's server: the one named for it
    (OPENAI_API_KEY, VLLM_API_KEY, OLLAMA_API_KEY, ...) unless the user named another."""
    return api_key_env or f"{provider.upper()}_API_KEY"


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    model: str  # for `scripted`, the path of the session file
    base_url: str | None = None  # where it is served; None for `scripted`
    api_key_env: str | None = None  # the variable holding its key, when not the provider's own

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.model}"

    @property
    def key_variable(self) -> str:
        return key_variable(self.provider, self.api_key_env)

    @property
    def key(self) -> str:
        """The key sent to its server: only ever the one paired with this provider (or named by the user)."""
        return os.environ.get(self.key_variable) or PLACEHOLDER_KEY


def parse_model(name: str, base_url: str | None = None, api_key_env: str | None = None) -> ModelSpec:
    """The model and where it is served: `base_url`, else OPENAI_BASE_URL or OpenAI's API for `openai:`,
    else the local server's usual port."""
    provider, sep, model = name.partition(":")
    if not sep or not model:
        raise LassiError(f"model {name!r} is not of the form provider:model (for example openai:o3-mini)")
    if provider not in PROVIDERS:
        raise LassiError(f"unknown model provider {provider!r} in {name!r}: use one of {', '.join(PROVIDERS)}")
    if provider == "scripted":
        return ModelSpec(provider, str(Path(model).expanduser().resolve()))
    default = (os.environ.get("OPENAI_BASE_URL") or OPENAI_API_URL) if provider == "openai" else LOCAL_SERVERS[provider]
    return ModelSpec(provider, model, (base_url or default).rstrip("/"), api_key_env)


def check_model(name: str, base_url: str | None = None, api_key_env: str | None = None) -> ModelSpec:
    """Parse a model name and make sure it can be used: the script exists, the key is set."""
    spec = parse_model(name, base_url, api_key_env)
    if spec.provider == "scripted":
        if not Path(spec.model).is_file():
            raise LassiError(f"scripted model file not found: {spec.model}")
        load_script(spec.model)  # a malformed session is reported now, not hours into the run
    variable = key_variable(spec.provider, api_key_env)
    if spec.base_url == OPENAI_API_URL and not os.environ.get(variable):
        raise LassiError(f"{spec.label} needs {variable} (set it in the environment or in .env),"
                         " or a {setting} for an OpenAI-compatible server", setting="base_url")
    return spec
