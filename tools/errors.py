"""The one exception type that reaches the user."""


class LassiError(Exception):
    """A problem the user can act on.

    Its message is a single line that says what is wrong and, where possible, what would be right.
    The CLI prints it as it is, without a traceback.
    """


class Interrupted(LassiError):
    """The user stopped a run (Ctrl-C); its message names the command that continues it."""
