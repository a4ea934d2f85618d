"""The one exception type that reaches the user."""

from __future__ import annotations

from collections.abc import Callable

PLACE = "{setting}"


class LassiError(Exception):
    """A problem the user can act on.

    Its message is a single line that says what is wrong and, where possible, what would be right.
    Where a setting is the thing to change, the message holds `{setting}` and names it in `setting`;
    each face spells it its own way (`spelled`): the CLI as `--main`, a suite and Python as `main`. The faces print the line as it is, without a traceback.
    """

    def __init__(self, message: str = "", setting: str | None = None):
        super().__init__(message)
        self.template = message
        self.setting = setting

    def spelled(self, spell: Callable[[str], str]) -> str:
        return self.template.replace(PLACE, spell(self.setting)) if self.setting else self.template

    def __str__(self) -> str:
        return self.spelled(str)


class Interrupted(LassiError):
    """The user stopped a run (Ctrl-C); its message names the command that continues it."""
