"""Background knowledge for the summarizer: the project's own notes, plus documents the user adds."""

from __future__ import annotations

from pathlib import Path

from knowledge.documents import load_documents, parse_spec

NOTES = Path(__file__).parent / "notes"
NOTE_PREFIX = {"cuda": "cuda-", "cpp": "cpu-"}  # one note per topic, named <prefix><topic>.md


def note_files(language: str) -> list[Path]:
    return sorted(NOTES.glob(f"{NOTE_PREFIX[language]}*.md"))


def load_notes(language: str) -> str:
    """The notes for a target language, each headed by its file name."""
    return "\n\n".join(f"# {path.name}\n\n{path.read_text().strip()}" for path in note_files(language))


def load_knowledge(language: str, documents: list[str]) -> str:
    """The project's notes, followed by the selected parts of the user's `--knowledge` documents."""
    notes = load_notes(language)
    if not documents:
        return notes
    return f"{notes}\n\n# Documents added by the user\n\n{load_documents(documents)}"


__all__ = ["load_notes", "load_knowledge", "note_files", "parse_spec"]
