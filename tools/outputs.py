"""Decide whether a candidate's standard output says the same as the source's.

Lines that report timings or rates are masked; every other line must have the same words, and
numbers must agree within a relative or absolute tolerance (integers, which count things, exactly).
Verdict words (PASS, FAIL, SUCCESS, errors found, ...) must match exactly and in order on every line,
masked lines included, so a verdict cannot hide on a timing line.

An agreement is only as good as what was compared: the check counts the lines, tokens and numbers
left after masking, and with fewer numbers than asked for it is *inconclusive* (a program that
prints a timing line and PASS proves nothing by printing them again). An empty or cut-short output
never agrees with a source that printed something.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

DEFAULT_MASKS = (
    r"\btime[sd]?\b", r"\belapsed\b", r"\bseconds?\b", r"\bduration\b", r"\bthroughput\b", r"\bbandwidth\b",
    r"\bruntime\b", r"\blatency\b", r"\bwall[- ]?clock\b", r"\btook\b", r"\b(ms|us|µs|ns|msec|usec)\b",
    r"\d\s*(s|secs?|ms|us|µs|ns)\b", r"[kMGT]?(B|FLOP|flop)s?/s\b", r"\bG?FLOPS\b", r"\bper second\b",
)
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)\b"
_INTEGER = re.compile(r"[-+]?\d+")
_VERDICT = re.compile(r"\b(?:pass(?:ed)?|fail(?:ed|ure|s)?|success(?:ful)?|ok|(?:in)?correct|(?:in)?valid|mismatch(?:es)?"
                      r"|errors? found|no errors?|(?:un)?verified)\b", re.I)
_FAILING = re.compile(r"^(?:fail(?:ed|ure|s)?|incorrect|invalid|mismatch(?:es)?|errors? found|unverified)$", re.I)
_NONE_BEFORE = re.compile(r"(?:^|[^\w.])(?:0|no|zero)\s+$", re.I)
_TOKEN = re.compile(rf"({_NUMBER})|([A-Za-z_]\w*)|(\S)", re.I)


@dataclass(frozen=True)
class OutputCheck:
    same: bool
    reason: str
    lines: int = 0  # lines compared after masking
    tokens: int = 0  # their tokens (words, numbers, symbols), verdict words included
    numbers: int = 0  # the numbers among them
    conclusive: bool = False  # the outputs agree on enough to count as evidence


def compare_outputs(expected: str, actual: str, rtol: float = 1e-6, atol: float = 1e-12,
                    masks: tuple[str, ...] = DEFAULT_MASKS, min_numbers: int = 1) -> OutputCheck:
    """Whether `actual` says what `expected` says; an agreement on fewer than `min_numbers` numbers
    is inconclusive."""
    mask = re.compile("|".join(masks), re.I)
    printed = [line for line in expected.splitlines() if line.strip()]
    answered = [line for line in actual.splitlines() if line.strip()]
    if printed and not answered:
        return OutputCheck(False, f"the candidate printed nothing where the source prints {len(printed)} lines")
    want = [line for line in printed if not mask.search(line)]
    got = [line for line in answered if not mask.search(line)]
    if len(want) != len(got):
        return OutputCheck(False, f"{len(got)} compared lines where the source prints {len(want)}"
                                  f" (timing lines masked); first differing: {_first_diff(want, got)}")
    for number, (a, b) in enumerate(zip(want, got), start=1):
        problem = _compare_line(a, b, rtol, atol)
        if problem:
            return OutputCheck(False, f"line {number}: {problem}: expected {a.strip()!r}, got {b.strip()!r}")
    verdicts = _VERDICT.findall(expected), _VERDICT.findall(actual)
    if verdicts[0] != verdicts[1]:
        return OutputCheck(False, f"verdict words differ (timing lines included): the source says {_words(verdicts[0])},"
                                  f" the candidate {_words(verdicts[1])}")
    masked = len(printed) - len(want), len(answered) - len(got)
    if masked[0] != masked[1]:
        return OutputCheck(False, f"{masked[1]} timing lines where the source prints {masked[0]} (cut short or padded)")
    tokens = [token for line in want for token in _tokens(line)]
    numbers = sum(kind == "number" for kind, _ in tokens)
    counted = (f"{len(want)} lines, {len(tokens)} tokens and {numbers} numbers compared after {masked[0]} timing"
               f" lines were masked")
    if numbers < min_numbers:
        return OutputCheck(True, f"inconclusive: the outputs agree, but only {counted}; at least {min_numbers}"
                                 f" number{'s' if min_numbers > 1 else ''} must be compared to count as evidence",
                           len(want), len(tokens), numbers, conclusive=False)
    return OutputCheck(True, f"{counted}: they agree (numbers within rtol={rtol:g}, atol={atol:g})",
                       len(want), len(tokens), numbers, conclusive=True)


def failing_verdicts(text: str) -> list[str]:
    """The verdict words of `text` that report a failure (FAIL, incorrect, errors found, ...), in order;
    a count of none ("0 errors found", "0 mismatches") is no failure."""
    return [m.group() for m in _VERDICT.finditer(text)
            if _FAILING.match(m.group()) and not _NONE_BEFORE.search(text[:m.start()])]


def _compare_line(expected: str, actual: str, rtol: float, atol: float) -> str:
    a, b = _tokens(expected), _tokens(actual)
    if len(a) != len(b):
        return "different number of tokens"
    for (kind_a, x), (kind_b, y) in zip(a, b):
        if kind_a != kind_b:
            return f"{x!r} became {y!r}"
        if kind_a == "number":
            fx, fy = float(x), float(y)
            if _INTEGER.fullmatch(x) and _INTEGER.fullmatch(y):
                if int(x) != int(y):
                    return f"{x} became {y} (whole numbers must be equal)"
            elif not (math.isclose(fx, fy, rel_tol=rtol, abs_tol=atol) or (math.isnan(fx) and math.isnan(fy))):
                return f"{x} became {y} (beyond tolerance)"
        elif x != y:
            return f"{x!r} became {y!r}"
    return ""


def _tokens(line: str) -> list[tuple[str, str]]:
    out = []
    for number, word, other in _TOKEN.findall(line):
        out.append(("number", number) if number else ("word", word or other))
    return out


def _words(found: list[str]) -> str:
    return ", ".join(repr(w) for w in found) if found else "none"


def _first_diff(want: list[str], got: list[str]) -> str:
    for a, b in zip(want, got):
        if a != b:
            return f"expected {a.strip()!r}, got {b.strip()!r}"
    longer = want if len(want) > len(got) else got
    return f"{'missing' if longer is want else 'extra'} line {longer[min(len(want), len(got))].strip()!r}"
