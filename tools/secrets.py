"""Masking of secret values: what a program printed or a prompt quotes never carries a key onwards.

The values of environment variables whose names say they are secret (looks_secret: such variables are
never passed to a program either, see tools/sandbox/environment.py) are replaced by a marker naming the
variable, wherever they appear in a text that leaves the process (a prompt sent to a model, llm.jsonl,
a candidate's saved output, the report).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

MIN_SECRET_CHARS = 6  # shorter values ("1", "true") would mask ordinary words
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.I)


def looks_secret(name: str) -> bool:
    """Names like OPENAI_API_KEY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD."""
    return bool(_SECRET_NAME.search(name))


def secret_values(source: Mapping[str, str] | None = None) -> dict[str, str]:
    """value -> name of every secret-looking variable worth masking, longest values first."""
    source = os.environ if source is None else source
    found = {value: name for name, value in source.items() if looks_secret(name) and len(value) >= MIN_SECRET_CHARS}
    return dict(sorted(found.items(), key=lambda item: -len(item[0])))


def mask(text: str, source: Mapping[str, str] | None = None) -> str:
    """`text` with every secret value replaced by [NAME masked]."""
    for value, name in secret_values(source).items():
        if value in text:
            text = text.replace(value, f"[{name} masked]")
    return text
