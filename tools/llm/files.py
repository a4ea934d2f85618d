"""Several editable files in one text, as the model reads them.

One editable file is shown as it is; several are shown each under a `File: NAME` line. The answer's
files and edits are read back by tools/llm/edits.
"""

from __future__ import annotations

FILE_LINE = "File: {name}"


def listing(files: dict[str, str]) -> str:
    """The files as the model reads them: the text of the one file, or each file named above its block."""
    if len(files) <= 1:
        return next(iter(files.values()), "")
    return "\n".join(f"{FILE_LINE.format(name=name)}\n```\n{text.rstrip()}\n```\n" for name, text in files.items())
