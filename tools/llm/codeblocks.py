"""Pull the program out of an LLM's answer."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
_OPEN_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n", re.M)
TAGS = {"cuda": {"cuda", "cu", "cpp", "c++", "cxx", "cc", "c"}, "cpp": {"cpp", "c++", "cxx", "cc", "c"}}


def extract_code(answer: str, language: str) -> str | None:
    """The program in `answer`: the longest fenced block tagged for the language (or untagged).

    An answer cut off before its closing fence still yields the code after the last opening fence.
    Returns None when the answer holds no code block.
    """
    blocks = [(tag.lower(), body) for _, tag, body in _FENCE.findall(answer)]
    if not blocks:
        opens = list(_OPEN_FENCE.finditer(answer))
        if not opens:
            return None
        last = opens[-1]
        blocks = [(last.group(2).lower(), answer[last.end():])]
    wanted = [body for tag, body in blocks if tag in TAGS[language]] or [body for tag, body in blocks if not tag]
    if not wanted:
        return None
    code = max(wanted, key=len)
    return code if code.endswith("\n") else code + "\n"
