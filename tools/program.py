"""A program is a folder: the files the model may rewrite (the main source by default) and what sits beside them."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tools.errors import LassiError

LANGUAGE_BY_SUFFIX = {".cu": "cuda", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp"}
SOURCE_SUFFIXES = {*LANGUAGE_BY_SUFFIX, ".c", ".h", ".hh", ".hpp", ".hxx", ".cuh", ".inc"}
COMPILED_SUFFIXES = {"cuda": (".cu", ".cpp", ".cc", ".cxx"), "cpp": (".cpp", ".cc", ".cxx")}
PREFERRED_MAINS = ("main.cu", "main.cpp", "main.cc", "main.cxx")
SKIPPED_NAMES = {".git", "__pycache__", "a.out"}
MAX_FILES = 2000  # a program folder is staged for every candidate: keep it to the program
MAX_BYTES = 2 * 1024**3  # of data actually stored (a sparse file counts what it holds)
# Not UTF-8: tried in this order. Latin-1 decodes any bytes, so it comes last.
GUESSED_ENCODINGS = ("utf-8", "cp1252", "latin-1")
SHARED_MIN_BYTES = 1024 * 1024  # files the model cannot edit from this size up are shared, not copied
_DEFINES_MAIN = re.compile(rb"^[ \t]*(?:int|auto|void)[ \t]+main[ \t]*\(", re.M)
_FICLONE = 0x40049409  # the Linux ioctl that makes a copy-on-write clone (a reflink)


@dataclass(frozen=True)
class Program:
    folder: Path
    main: str
    language: str  # "cuda" or "cpp"

    @property
    def main_path(self) -> Path:
        return self.folder / self.main

    def source_texts(self) -> dict[str, str]:
        """The folder's source files by name, headers included: what a model's answer may name."""
        return {path.name: path.read_text(errors="replace") for path in sorted(self.folder.iterdir())
                if path.suffix in SOURCE_SUFFIXES and path.is_file()}

    def read_main(self) -> str:
        return read_source(self.main_path)[0]

    def file(self, name: str, setting: str) -> Path:
        """A file of the program named by a setting, which must stay inside the folder."""
        path = (self.folder / name).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            raise LassiError(f"{{setting}} names {name}, which is not a file inside {self.folder}", setting=setting)
        return path

    def editable(self, names: list[str] | tuple[str, ...] = ()) -> tuple[str, ...]:
        """The files the model sees and may change: those named, or the main source alone."""
        for name in names:
            self.file(name, "edit")
        return tuple(dict.fromkeys(names)) or (self.main,)

    def sources(self, names: list[str] | tuple[str, ...] = ()) -> list[str]:
        """What the default build compiles: the files named, or the main source and every other source of
        the folder, but those that define a main() of their own (another program of the same folder)."""
        for name in names:
            self.file(name, "sources")
        if names:
            return list(names)
        others = sorted(p.name for p in self.folder.iterdir()
                        if p.is_file() and p.suffix in COMPILED_SUFFIXES[self.language] and p.name != self.main
                        and not _DEFINES_MAIN.search(p.read_bytes()))
        return [self.main, *others]


def read_source(path: Path, encoding: str | None = None) -> tuple[str, str]:
    """A source's text and the encoding it is in: the one named, or UTF-8, Windows-1252, Latin-1 in turn."""
    data = path.read_bytes()
    for name in (encoding,) if encoding else GUESSED_ENCODINGS:
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    raise LassiError(f"{path} is not {encoding} text; name its encoding with {{setting}}", setting="encoding")


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
            files, size = files + 1, size + path.stat().st_blocks * 512
            if files > MAX_FILES or size > MAX_BYTES:
                raise LassiError(f"{folder} holds more than {MAX_FILES} files or {MAX_BYTES >> 30} GiB; it is staged"
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


def stage_workspace(program: Program, workspace: Path, files: dict[str, str], encoding: str | None = None) -> None:
    """Lay the program folder out in `workspace` with the editable `files` ({name: text}) written over it.

    Each file is written back in its original's encoding. The files the model cannot edit are copied
    when small and shared when large (see share_file), so a big input costs no space per candidate.
    """
    if workspace.exists():
        shutil.rmtree(workspace)
    target = workspace.resolve()

    def skipped(directory: str, names: list[str]) -> set[str]:
        # Never copy a folder that holds the workspace itself (a run directory inside the program).
        return {n for n in names if n in SKIPPED_NAMES or target.is_relative_to(Path(directory, n).resolve())}

    shutil.copytree(program.folder, workspace, ignore=skipped, symlinks=True, copy_function=share_file)
    write_sources(program, workspace, files, encoding)


def write_sources(program: Program, folder: Path, files: dict[str, str], encoding: str | None = None) -> None:
    """Write `files` into `folder`, each in its original's encoding (never through a shared link)."""
    for name, text in files.items():
        original = program.folder / name
        chosen = encoding or (read_source(original)[1] if original.is_file() else "utf-8")
        path = folder / name
        path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(chosen, errors="replace"))


def share_file(src: str, dst: str) -> None:
    """Copy a small file; a large one is reflinked where the filesystem can, else hard-linked (a sandboxed
    build or run sees linked files read-only: see tools/sandbox/isolation.py), else copied keeping its holes."""
    if os.path.getsize(src) < SHARED_MIN_BYTES:
        shutil.copy2(src, dst)
        return
    if _reflink(src, dst):
        return
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links refused
        _sparse_copy(src, dst)


def _reflink(src: str, dst: str) -> bool:
    try:
        with open(src, "rb") as source, open(dst, "wb") as target:
            fcntl.ioctl(target.fileno(), _FICLONE, source.fileno())
    except OSError:
        Path(dst).unlink(missing_ok=True)
        return False
    shutil.copystat(src, dst)
    return True


def _sparse_copy(src: str, dst: str) -> None:
    """Copy only the parts of `src` that hold data; holes stay holes."""
    with open(src, "rb") as source, open(dst, "wb") as target:
        size, offset = os.fstat(source.fileno()).st_size, 0
        while offset < size:
            try:
                start = os.lseek(source.fileno(), offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # nothing but a hole to the end
                    break
                raise
            end = os.lseek(source.fileno(), start, os.SEEK_HOLE)
            source.seek(start)
            target.seek(start)
            while start < end:
                chunk = source.read(min(end - start, 1 << 20))
                target.write(chunk)
                start += len(chunk)
            offset = end
        target.truncate(size)
    shutil.copystat(src, dst)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
