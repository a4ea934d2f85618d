"""Fill a template's {{placeholders}}. Templates are data: editing one needs no code change."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

FOLDER = Path(__file__).parent
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@cache
def template(name: str) -> str:
    return (FOLDER / f"{name}.md").read_text()


def render(name: str, **values: object) -> str:
    """The template with every placeholder filled; a missing or unused value is a bug and raises."""
    text = template(name)
    wanted = set(_PLACEHOLDER.findall(text))
    if missing := wanted - values.keys():
        raise KeyError(f"prompt {name!r} needs {sorted(missing)}")
    if unused := values.keys() - wanted:
        raise KeyError(f"prompt {name!r} has no place for {sorted(unused)}")
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text).strip() + "\n"


def prompt_version(name: str) -> str:
    """A short hash of a template, recorded with every answer it produced."""
    return hashlib.sha256(template(name).encode()).hexdigest()[:12]
