"""Apply a model's answer to the program's files: whole files, unified diffs or SEARCH/REPLACE blocks.

Each piece of an answer names its file: a whole-file block by a file name in its fence line, its first
line's comment or the line just before it, a diff by its `+++` header, a SEARCH/REPLACE block (Aider's form) by the file
name on the line before its fence. Pieces are matched to the program's files by name. Only the files
in `editable` may change; a piece for any other file is refused (one that leaves it as it is, like a
header shown again unchanged, is let pass). An answer with a single unnamed code block is the whole
main source, as a model asked for one file answers. Whatever does not apply raises `EditError` with
the reason and the piece that failed, for the model to correct.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from tools.llm.codeblocks import TAGS, extract_code

WHOLE_FILE, DIFF, SEARCH_REPLACE = "whole file", "unified diff", "search/replace"

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})([^\n]*)\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
_SEARCH_REPLACE = re.compile(r"^<{5,9} ?SEARCH[^\n]*\n(.*?)^={5,9}[ \t]*\n(.*?)^>{5,9} ?REPLACE[^\n]*$", re.M | re.S)
_FILE_NAME = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-][\w.-]*\.(?:cu|cuh|cpp|cc|cxx|c|h|hpp|hh|hxx|inc))(?![\w/-])")
_DIFF_FILE = re.compile(r"^--- [^\n]*\n\+\+\+ ([^\n\t]+)[^\n]*\n", re.M)
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@[^\n]*$", re.M)


class EditError(Exception):
    """An answer that cannot be applied: `reason` says why, `piece` is the part of the answer that failed."""

    def __init__(self, reason: str, piece: str = ""):
        super().__init__(reason)
        self.reason, self.piece = reason, piece


@dataclass
class Applied:
    files: dict[str, str]  # the new content of every editable file the answer changed
    forms: tuple[str, ...]  # the forms the answer used, in the order found

    @property
    def form(self) -> str:
        return " + ".join(self.forms)


def apply_answer(answer: str, files: dict[str, str], editable: Sequence[str], language: str) -> Applied:
    """The editable files as the answer leaves them; `files` holds every text file of the program by name."""
    editable = list(editable)
    pieces = _pieces(answer)
    if not pieces:
        code = extract_code(answer, language) if len(editable) == 1 else None
        if code is None:
            raise EditError("the answer held no code block, unified diff or SEARCH/REPLACE block")
        return Applied({editable[0]: code}, (WHOLE_FILE,))
    new = {name: files.get(name, "") for name in editable}
    names_editable = any(name is not None and PurePosixPath(name).name in editable for _, name, _, _ in pieces)
    touched, forms = set(), []
    for form, name, body, piece in pieces:
        target = _target(name, form, body, piece, files, editable, language, names_editable)
        if target is None:
            continue  # an unnamed snippet beside named pieces, or an unchanged read-only file
        if form == WHOLE_FILE:
            new[target] = body if body.endswith("\n") else body + "\n"
        elif form == SEARCH_REPLACE:
            new[target] = _replace(new[target], body[0], body[1], target, piece)
        else:
            new[target] = _patch(new[target], body, target, piece)
        touched.add(target)
        forms += [form] if form not in forms else []
    if not touched:
        raise EditError(f"the answer changes none of the files that may be edited ({', '.join(editable)})")
    return Applied({name: new[name] for name in editable if name in touched}, tuple(forms))


def _pieces(answer: str) -> list[tuple[str, str | None, object, str]]:
    """(form, the file it names or None, its content, its text) for every piece of the answer, in order."""
    pieces = []
    for fence in _FENCE.finditer(answer):
        info, body = fence.group(2).strip(), fence.group(3)
        before = _line_before(answer, fence.start())
        if _SEARCH_REPLACE.search(body):
            pieces += _search_replace_pieces(body, _name_in(info) or _name_in(before))
        elif _is_diff(info, body):
            pieces += _diff_pieces(body)
        else:
            first = body.split("\n", 1)[0]
            named_inside = _name_in(first) if first.lstrip().startswith(("//", "/*")) else None
            pieces.append((WHOLE_FILE, _name_in(" ".join(info.split()[1:]) or info) or named_inside
                           or _name_in(before), body, fence.group(0)))
    if not pieces:  # unfenced edits
        if _SEARCH_REPLACE.search(answer):
            pieces += _search_replace_pieces(answer, None)
        elif _DIFF_FILE.search(answer) and _HUNK.search(answer):
            pieces += _diff_pieces(answer)
    return pieces


def _search_replace_pieces(text: str, name: str | None) -> list:
    found = []
    for block in _SEARCH_REPLACE.finditer(text):
        named = _name_in(_line_before(text, block.start())) or name
        found.append((SEARCH_REPLACE, named, (block.group(1), block.group(2)), block.group(0)))
    return found


def _diff_pieces(text: str) -> list:
    heads = list(_DIFF_FILE.finditer(text))
    found = []
    for number, head in enumerate(heads):
        end = heads[number + 1].start() if number + 1 < len(heads) else len(text)
        name = head.group(1).strip()
        name = None if name == "/dev/null" else re.sub(r"^[ab]/", "", name)
        section = text[head.end():end]
        found.append((DIFF, name or "/dev/null", section, text[head.start():end]))
    return found


def _is_diff(info: str, body: str) -> bool:
    return info.split()[:1] in (["diff"], ["patch"]) or bool(_DIFF_FILE.search(body) and _HUNK.search(body))


def _line_before(text: str, position: int) -> str:
    lines = [line for line in text[:position].splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _name_in(text: str) -> str | None:
    found = _FILE_NAME.findall(text or "")
    return found[-1] if found else None


def _target(name: str | None, form: str, body, piece: str, files: dict[str, str], editable: list[str],
            language: str, names_editable: bool) -> str | None:
    """The editable file a piece applies to; None to let it pass; EditError for a file it may not change."""
    if name is None:
        if form == WHOLE_FILE and not _tagged_for(piece, language):
            return None
        if len(editable) == 1 and (form != WHOLE_FILE or not names_editable):
            return editable[0]
        if form == WHOLE_FILE:
            return None
        raise EditError(f"this {form} block names no file: say which of {', '.join(editable)} it changes", piece)
    matches = [file for file in (*editable, *files) if file == name or PurePosixPath(name).name == file]
    if not matches:
        raise EditError(f"the answer changes {name}, which is not a file of this program; only"
                        f" {', '.join(editable)} may be edited", piece)
    if matches[0] in editable:
        return matches[0]
    if form == WHOLE_FILE and body.rstrip() == files[matches[0]].rstrip():
        return None
    raise EditError(f"the answer changes {matches[0]}, which may not be edited in this run: only"
                    f" {', '.join(editable)} may change, so make the change there", piece)


def _tagged_for(piece: str, language: str) -> bool:
    tag = piece.split("\n", 1)[0].strip().lstrip("`~").split()
    return not tag or tag[0].lower() in TAGS[language]


def _replace(text: str, search: str, replace: str, name: str, piece: str) -> str:
    """One SEARCH/REPLACE: the search text must be found exactly once (trailing spaces aside)."""
    if not search.strip():
        raise EditError(f"a SEARCH section for {name} is empty: copy the lines to change from {name}", piece)
    spans = _find_lines(text, search.splitlines())
    if not spans:
        raise EditError(f"the SEARCH text was not found in {name}: it must repeat the current lines exactly", piece)
    if len(spans) > 1:
        raise EditError(f"the SEARCH text matches {len(spans)} places in {name}: add lines around it so that it"
                        " matches one", piece)
    return _splice(text, spans[0], replace.splitlines())


def _patch(text: str, section: str, name: str, piece: str) -> str:
    """A file's hunks, each found by its context and removed lines (exactly once, or at its line number)."""
    hunks = list(_HUNK.finditer(section))
    if not hunks:
        raise EditError(f"the diff for {name} holds no @@ hunk", piece)
    for number, hunk in enumerate(hunks):
        end = hunks[number + 1].start() if number + 1 < len(hunks) else len(section)
        lines = section[hunk.end() + 1:end].splitlines()
        old = [line[1:] for line in lines if line[:1] in (" ", "-", "")]
        new = [line[1:] for line in lines if line[:1] in (" ", "+", "")]
        shown = section[hunk.start():end]
        while old and not old[-1].strip() and new and not new[-1].strip():  # a blank line after the hunk
            old, new = old[:-1], new[:-1]
        if not any(line.strip() for line in old):
            raise EditError(f"a hunk for {name} has no context or removed lines to place it by", shown)
        spans = _find_lines(text, old)
        if len(spans) > 1:
            spans = [s for s in spans if s[0] == int(hunk.group(1)) - 1] or spans
        if not spans:
            raise EditError(f"a hunk's context and removed lines were not found in {name}", shown)
        if len(spans) > 1:
            raise EditError(f"a hunk's context matches {len(spans)} places in {name}: give more context", shown)
        text = _splice(text, spans[0], new)
    return text


def _find_lines(text: str, wanted: list[str]) -> list[tuple[int, int]]:
    """(first, end) line spans of `text` equal to `wanted`, ignoring trailing spaces, or leading ones too if
    nothing matches otherwise."""
    lines = text.splitlines()
    for same in (str.rstrip, str.strip):
        target = [same(line) for line in wanted]
        spans = [(i, i + len(target)) for i in range(len(lines) - len(target) + 1)
                 if [same(line) for line in lines[i:i + len(target)]] == target]
        if spans:
            return spans
    return []


def _splice(text: str, span: tuple[int, int], new: list[str]) -> str:
    lines = text.splitlines()
    return "\n".join([*lines[:span[0]], *new, *lines[span[1]:]]) + "\n"
