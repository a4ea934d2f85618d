"""Several editable files in one text: the listing the model reads, and the files its answer writes back.

One editable file is shown as it is and read back as the answer's code block (tools/llm/codeblocks).
Several are shown each under a `File: NAME` line; the answer gives each file it changes as a fenced
block with the file's name on the line before it (or as the block's first-line comment).
"""

from __future__ import annotations

import re

from tools.llm.codeblocks import TAGS, extract_code

FILE_LINE = "File: {name}"
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)


def listing(files: dict[str, str]) -> str:
    """The files as the model reads them: the text of the one file, or each file named above its block."""
    if len(files) <= 1:
        return next(iter(files.values()), "")
    return "\n".join(f"{FILE_LINE.format(name=name)}\n```\n{text.rstrip()}\n```\n" for name, text in files.items())


def answer_files(answer: str, names: list[str], language: str) -> dict[str, str]:
    """The files an answer gives ({} when none): for one editable file its code block, for several each
    block named by the last editable file's name said before it or in its first line."""
    if len(names) == 1:
        code = extract_code(answer, language)
        return {names[0]: code} if code is not None else {}
    found, said_up_to = {}, 0
    for block in _FENCE.finditer(answer):
        tag, body = block.group(2).lower(), block.group(3)
        first_line = body.split("\n", 1)[0]
        named = _last_name(first_line, names) or _last_name(answer[said_up_to:block.start()], names)
        said_up_to = block.end()
        if named and (not tag or tag in TAGS[language] or tag in {"h", "hpp", "cuh"}):
            found[named] = body if body.endswith("\n") else body + "\n"
    return found


def _last_name(text: str, names: list[str]) -> str | None:
    """The editable file named last in `text`."""
    spots = [(m.start(), len(name), name) for name in names
             for m in re.finditer(rf"(?<![\w./-]){re.escape(name)}(?![\w-])", text)]
    return max(spots)[2] if spots else None
