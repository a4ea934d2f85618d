"""A witness of a program: the same source with guarded blocks that also print what it computes.

A benchmark program that prints a timing line and PASS leaves nothing to compare. Its witness adds
blocks between `#ifdef LASSI_WITNESS` and `#endif` that print lines starting with `LASSI-WITNESS`:
checksums of the result buffers and counts of the work done. Built without the macro the witness is
the program itself; built with it, its other lines are the program's and its witness lines show the
results. These are the text operations on witnesses and their outputs; building and running them is
the nodes' business.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

MACRO = "LASSI_WITNESS"
PREFIX = "LASSI-WITNESS"
FLAG = f"-D{MACRO}"
ACCEPTED = "accepted"  # a witness record's status once it passed every test; otherwise the status says why not

_OPENS = re.compile(rf"^\s*#\s*(?:ifdef\s+{MACRO}\b|if\s+defined\s*\(?\s*{MACRO}\s*\)?\s*$)")
_NESTED = re.compile(r"^\s*#\s*if(?:n?def)?\b")
_ELSE = re.compile(r"^\s*#\s*else\b")
_ELIF = re.compile(r"^\s*#\s*elif(?:n?def)?\b")
_END = re.compile(r"^\s*#\s*endif\b")
_WHOLE_NUMBER = re.compile(r"^\d+$")
_NAMED = re.compile(rf"\b{MACRO}\b")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
NEVER = (r"(?!)",)  # a mask that hides no line: witness lines are compared whole


class WitnessError(Exception):
    """A witness whose blocks cannot be read: `reason` says why, in words for the model."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def strip_witness(code: str) -> tuple[str, int]:
    """The code without its LASSI_WITNESS blocks (an `#else` part is kept), and how many there were."""
    blocks = _read_blocks(code)
    return blocks.kept, blocks.count


@dataclass(frozen=True)
class _Blocks:
    kept: str  # the code outside the blocks, with their #else parts
    count: int
    has_else: bool


def _read_blocks(code: str) -> _Blocks:
    """One walk over the code's preprocessor lines: what lies outside the LASSI_WITNESS blocks, and their shape."""
    kept, count, depth, keeping, has_else = [], 0, 0, False, False
    for number, line in enumerate(_lines(code), start=1):
        if depth == 0:
            if _OPENS.match(line):
                depth, keeping, count = 1, False, count + 1
            else:
                kept.append(line)
            continue
        if _NESTED.match(line):
            depth += 1
        elif _END.match(line):
            depth -= 1
            if depth == 0:
                continue
        elif depth == 1 and _ELIF.match(line):
            raise WitnessError(f"line {number}: a {MACRO} block may not have an #elif branch")
        elif depth == 1 and _ELSE.match(line):
            keeping = has_else = True
            continue
        if keeping:
            kept.append(line)
    if depth:
        raise WitnessError(f"a #ifdef {MACRO} block is never closed by its #endif")
    return _Blocks("".join(kept), count, has_else)


def _lines(code: str) -> list[str]:
    """The code's lines as the compiler sees them: split at newlines only (a form feed is no line break)."""
    return [line for line in re.split(r"(?<=\n)", code) if line]


def measured_build_differs(files: dict[str, str]) -> str:
    """Why a candidate built without the macro might do other work than its witness build ('' when it cannot).

    A witness block may only add lines to the program. So the macro may not be named anywhere else (an
    `#ifndef LASSI_WITNESS`, an `#if LASSI_WITNESS`, a macro reading it), and no block may have an `#else`
    branch: either would let the measured build do less than the build whose lines were checked.
    """
    for name in sorted(files):
        try:
            blocks = _read_blocks(files[name])
        except WitnessError as exc:
            return f"{name}: {exc.reason}"
        if _NAMED.search(_COMMENT.sub("", blocks.kept)):
            return (f"{name} names {MACRO} outside its `#ifdef {MACRO}` blocks, so its measured build could do other"
                    " work than its witness build")
        if blocks.has_else:
            return f"{name}: a {MACRO} block has an #else branch, which only the measured build compiles"
    return ""


def outside_blocks_differ(source: str, witness: str) -> str:
    """'' when the witness, its blocks taken out, is the source (blank lines and trailing spaces aside);
    otherwise the first difference, in words."""
    stripped, blocks = strip_witness(witness)
    if not blocks:
        return f"it has no #ifdef {MACRO} block"
    mine, theirs = _meaningful(stripped), _meaningful(source)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=theirs, b=mine, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        was, now = _shown(theirs[i1:i2]), _shown(mine[j1:j2])
        change = {"insert": f"it adds `{now}` to the source", "delete": f"it drops the source's `{was}`"}.get(
            tag, f"the source's `{was}` became `{now}`")
        return (f"outside its {MACRO} blocks it is not the source: {change} (every added line, counters too, must sit"
                f" inside a block)")
    return ""


def _shown(lines: list[str]) -> str:
    return " / ".join(line.strip() for line in lines[:2])[:200]


def _meaningful(code: str) -> list[str]:
    return [line.rstrip() for line in _lines(code) if line.strip()]


def split_output(stdout: str) -> tuple[str, list[str]]:
    """(the output without its witness lines, the witness lines)."""
    plain, witness = [], []
    for line in stdout.splitlines(keepends=True):
        (witness if line.lstrip().startswith(PREFIX) else plain).append(line)
    return "".join(plain), [line.strip() for line in witness]


def varied_args(args: list[str]) -> list[str] | None:
    """Arguments that should change what the program computes, for a program given no other set: the last
    whole-number argument halved (1 becomes 2), or None where there is none."""
    for index in range(len(args) - 1, -1, -1):
        if _WHOLE_NUMBER.match(args[index]):
            n = int(args[index])
            return [*args[:index], str(n // 2 if n >= 2 else n + 1), *args[index + 1:]]
    return None


def remove_blocks(files: dict[str, str]) -> dict[str, str]:
    """Every file that holds witness blocks, without them (files that hold none are left out)."""
    found = {}
    for name, text in files.items():
        try:
            stripped, blocks = strip_witness(text)
        except WitnessError:
            continue
        if blocks:
            found[name] = stripped
    return found


def describe_witness(witness: dict) -> str:
    """One line on a run's witness record, for the progress display and the report."""
    if witness["status"] == ACCEPTED:
        return f"witness of the source {witness['reason']}"
    return f"no witness of the source: {witness['reason']}"
