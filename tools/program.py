"""A program is a folder: one main source the LLM may rewrite, plus whatever sits beside it."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from tools.errors import LassiError

LANGUAGE_BY_SUFFIX = {".cu": "cuda", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp"}
SOURCE_SUFFIXES = {*LANGUAGE_BY_SUFFIX, ".c", ".h", ".hh", ".hpp", ".hxx", ".cuh", ".inc"}
PREFERRED_MAINS = ("main.cu", "main.cpp", "main.cc", "main.cxx")
SKIPPED_NAMES = {".git", "__pycache__", "a.out"}
MAX_FILES = 2000  # a program folder is copied for every candidate: keep it to the program
MAX_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Program:
    folder: Path
    main: str
    language: str  # "cuda" or "cpp"

    @property
    def main_path(self) -> Path:
        return self.folder / self.main

    def sources(self) -> dict[str, str]:
        """The folder's source files by name (the main one and those beside it, headers included)."""
        return {path.name: path.read_text(errors="replace") for path in sorted(self.folder.iterdir())
                if path.suffix in SOURCE_SUFFIXES and path.is_file()}

    def read_main(self) -> str:
        try:
            return self.main_path.read_text()
        except UnicodeDecodeError:
            raise LassiError(f"main source {self.main_path} is not UTF-8 text; convert it (iconv -t UTF-8)") from None


def load_program(path: str | Path, main: str | None = None) -> Program:
    """Find the program in `path` (a folder, or a main source file inside its folder)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise LassiError(f"program not found: {path} (give the folder that holds its main source)")
    if path.is_file():
        main, path = path.name, path.parent
    folder = path.resolve()
    if main is not None and Path(main).name != main:
        raise LassiError(f"{{setting}} takes a file name inside the program folder, not a path: {main}", setting="main")
    main = main or _find_main(folder)
    suffix = Path(main).suffix
    if suffix not in LANGUAGE_BY_SUFFIX:
        raise LassiError(f"main source {main} is not CUDA (.cu) or C++ (.cpp, .cc, .cxx)")
    if not (folder / main).is_file():
        raise LassiError(f"main source {main} not found in {folder}")
    return Program(folder=folder, main=main, language=LANGUAGE_BY_SUFFIX[suffix])


def check_size(program: Program) -> None:
    """Refuse folders that are clearly more than a program (a home directory, a whole repository).

    Walks the folder, so it runs once per run (Stage 0), not every time a node loads the program.
    """
    folder = program.folder
    files, size = 0, 0
    for path in folder.rglob("*"):
        if path.is_file() and not SKIPPED_NAMES.intersection(path.relative_to(folder).parts):
            files, size = files + 1, size + path.stat().st_size
            if files > MAX_FILES or size > MAX_BYTES:
                raise LassiError(f"{folder} holds more than {MAX_FILES} files or {MAX_BYTES >> 30} GiB; it is copied"
                                 " for every candidate, so put the program in a folder of its own")


def _find_main(folder: Path) -> str:
    for name in PREFERRED_MAINS:
        if (folder / name).is_file():
            return name
    sources = sorted(p.name for p in folder.iterdir() if p.suffix in LANGUAGE_BY_SUFFIX)
    if len(sources) == 1:
        return sources[0]
    if not sources:
        raise LassiError(f"no CUDA or C++ source in {folder} (expected main.cu or main.cpp)")
    raise LassiError(f"several sources in {folder} ({', '.join(sources)}): name the main one with {{setting}}",
                     setting="main")


def stage_workspace(program: Program, workspace: Path, main_text: str) -> Path:
    """Copy the program folder into `workspace` with the main source replaced; return the main path."""
    if workspace.exists():
        shutil.rmtree(workspace)
    target = workspace.resolve()

    def skipped(directory: str, names: list[str]) -> set[str]:
        # Never copy a folder that holds the workspace itself (a run directory inside the program).
        return {n for n in names if n in SKIPPED_NAMES or target.is_relative_to(Path(directory, n).resolve())}

    shutil.copytree(program.folder, workspace, ignore=skipped, symlinks=True)
    main_path = workspace / program.main
    main_path.write_text(main_text)
    return main_path


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
