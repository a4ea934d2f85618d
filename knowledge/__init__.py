"""Background knowledge for the summarizer: the project's own notes on writing energy-lean code."""

from __future__ import annotations

from pathlib import Path

NOTES = Path(__file__).parent / "notes"
NOTES_BY_LANGUAGE = {"cuda": ("cuda-energy.md",), "cpp": ("cpu-openmp-energy.md",)}


def load_notes(language: str) -> str:
    """The notes for a target language, each headed by its file name."""
    return "\n\n".join(f"# {name}\n\n{(NOTES / name).read_text().strip()}" for name in NOTES_BY_LANGUAGE[language])
