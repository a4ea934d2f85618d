"""A program is a folder: one main source the LLM may rewrite, plus whatever sits beside it.

Folders are copied without ever following a link out of them: a link that stays inside is copied as a
link, one that leads outside is refused in a program folder (or copied as the file it names when the
user says so) and left out of a copy of a workspace. Sparse files stay sparse.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tools.errors import LassiError

LANGUAGE_BY_SUFFIX = {".cu": "cuda", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp"}
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


def check_size(program: Program, follow_links: bool = False) -> None:
    """Refuse folders that are clearly more than a program (a home directory, a whole repository), and
    folders with links to outside them unless `follow_links` (they are then copied as what they name).

    Walks the folder, so it runs once per run (Stage 0), not every time a node loads the program.
    """
    folder = program.folder
    files, size = 0, 0
    for path in folder.rglob("*"):
        if not follow_links and path.is_symlink() and not _inside(path, folder):
            raise LassiError(f"{path} is a link to {os.readlink(path)}, outside the program folder: copy the file"
                             " into the folder, or set {setting} to copy what it names", setting="follow_links")
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


def stage_workspace(program: Program, workspace: Path, main_text: str, follow_links: bool = False) -> Path:
    """Copy the program folder into `workspace` with the main source replaced; return the main path."""
    if workspace.exists():
        shutil.rmtree(workspace)
    target = workspace.resolve()

    def skipped(directory: Path, name: str) -> bool:
        # Never copy a folder that holds the workspace itself (a run directory inside the program).
        return name in SKIPPED_NAMES or target.is_relative_to((directory / name).resolve())

    copy_within(program.folder, workspace, skipped, follow_links)
    main_path = workspace / program.main
    main_path.write_text(main_text)
    return main_path


def copy_within(source: Path, target: Path, skipped=lambda directory, name: False,
                follow_outside_links: bool = False) -> list[Path]:
    """Copy a folder without following any link out of it; return the links left out.

    A link that stays inside `source` is copied as a link; one that leads outside (or nowhere) is left
    out, or with `follow_outside_links` copied as the file or folder it names.
    """
    source = Path(source)
    left_out: list[Path] = []
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        path, copy = Path(entry.path), target / entry.name
        if skipped(source, entry.name):
            continue
        if entry.is_symlink() and not _inside(path, source.resolve()):
            if not (follow_outside_links and path.exists()):
                left_out.append(path)
            elif path.is_dir():
                shutil.copytree(path, copy, symlinks=False)
            else:
                copy_file(path, copy)
        elif entry.is_symlink():
            os.symlink(os.readlink(path), copy)
        elif entry.is_dir(follow_symlinks=False):
            left_out += copy_within(path, copy, skipped, follow_outside_links)
        elif entry.is_file(follow_symlinks=False):
            copy_file(path, copy)
    return left_out


def copy_file(source: Path, target: Path) -> None:
    """Copy a file with its mode and times; a sparse file's holes stay holes (a large data file costs no disk)."""
    info = os.stat(source)
    if info.st_blocks * 512 >= info.st_size:
        shutil.copy2(source, target)
        return
    with open(source, "rb") as src, open(target, "wb") as dst:
        offset = 0
        while True:
            try:
                offset = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError:  # no data after offset: the rest is a hole
                break
            end = os.lseek(src.fileno(), offset, os.SEEK_HOLE)
            src.seek(offset)
            dst.seek(offset)
            for _ in range(offset, end, 1 << 20):
                dst.write(src.read(min(1 << 20, end - src.tell())))
            offset = end
        dst.truncate(info.st_size)
    shutil.copystat(source, target)


def _inside(link: Path, folder: Path) -> bool:
    """Whether the link resolves to something inside `folder` (a dangling or outside link does not)."""
    try:
        return link.resolve(strict=True).is_relative_to(folder)
    except (OSError, RuntimeError):
        return False


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
