"""The report as a small document model, and its Markdown rendering.

The report is built once as a list of blocks; Markdown and HTML are two renderings of the same
blocks, so the two files cannot disagree. Text inside blocks may carry the two inline marks both
renderings understand: `code` and **strong**.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str
    banner: bool = False  # a warning the reader must not miss


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Items:
    """Bullets, each with its own sub-bullets."""

    items: list[tuple[str, list[str]]]


@dataclass(frozen=True)
class Code:
    text: str
    language: str = ""


@dataclass(frozen=True)
class Figure:
    """A picture of the run directory: linked by Markdown, embedded by HTML."""

    alt: str
    path: Path  # relative to the run directory
    small: bool = False  # a detail: HTML shows small ones side by side


@dataclass(frozen=True)
class Prose:
    """Text written by a model: shown as it came (Markdown), rendered as Markdown with its raw HTML escaped (HTML)."""

    text: str


Block = Heading | Para | Table | Items | Code | Figure | Prose


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)


def to_markdown(doc: Document) -> str:
    parts = [f"# {doc.title}"] + [block_markdown(b) for b in doc.blocks]
    return "\n\n".join(parts) + "\n"


def block_markdown(b: Block) -> str:
    if isinstance(b, Heading):
        return f"{'#' * b.level} {b.text}"
    if isinstance(b, Para):
        return f"> **{b.text}**" if b.banner else b.text
    if isinstance(b, Table):
        lines = [_row(b.header), "|" + "---|" * len(b.header)]
        return "\n".join(lines + [_row(row) for row in b.rows])
    if isinstance(b, Items):
        return "\n".join(line for text, subs in b.items for line in [f"- {text}"] + [f"  - {s}" for s in subs])
    if isinstance(b, Code):
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", b.text)), default=0))
        return f"{fence}{b.language}\n{b.text}\n{fence}"
    if isinstance(b, Figure):
        return f"![{b.alt}]({b.path.as_posix()})"
    return b.text.strip()


def _row(cells: list[str]) -> str:
    """A table row; a cell's line breaks become spaces and its pipes are escaped."""
    texts = [" ".join(c.split()).replace("|", "\\|") for c in cells]
    return "|" + "|".join(f" {t} " if t else " " for t in texts) + "|"
