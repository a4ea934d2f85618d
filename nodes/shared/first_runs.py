"""Checks on a program's first runs, made while it is measured, before the rest of its repeats.

The executor hands every run's result to `FirstRuns.seen`; nothing here decides how runs are
repeated. For the source (Stage 0, before any model is asked): its output must not carry a failing
verdict of its own (FAIL, Verification failed, ...), two runs on the same arguments must print the
same, and when what it prints leaves too little to compare a notice says what would help. For a
candidate: its first run's output must say what the source's says, or it is not measured further
(the judge's output layer gives the same verdict from the same output), so a rejected candidate
costs one run.
"""

from __future__ import annotations

from graph.context import Context
from graph.state import SOURCE, State, read_stdout, source
from tools.errors import LassiError
from tools.outputs import DEFAULT_MASKS, compare_outputs, failing_verdicts
from tools.sandbox.runner import RunResult


class RejectedEarly(Exception):
    """A candidate's first run already disqualifies it."""

    def __init__(self, result: RunResult, reason: str):
        super().__init__(reason)
        self.result, self.reason = result, reason


class FirstRuns:
    def __init__(self, state: State, ctx: Context):
        self.is_source = state["current"] == SOURCE
        self.expected = None if self.is_source else read_stdout(source(state))
        self.accept_failing = ctx.accept_failing_source
        self.masks, self.rtol, self.atol = (*DEFAULT_MASKS, *ctx.output_masks), ctx.rtol, ctx.atol
        self.min_numbers = ctx.min_output_numbers
        self.first: str | None = None
        self.runs = 0
        self.notice = ""  # what the user could give to make validation possible (the source only)

    def seen(self, result: RunResult) -> None:
        """Called after each run; raises LassiError (source) or RejectedEarly (candidate)."""
        self.runs += 1
        if not result.ok or self.runs > 2:
            return
        if self.is_source:
            self._source_run(result.stdout)
        elif self.runs == 1:
            found = self._compare(self.expected, result.stdout)
            if not found.same:
                raise RejectedEarly(result, f"its first run's output already differs from the source's: {found.reason}")

    def _source_run(self, stdout: str) -> None:
        go_on = "; to go on all the same, set --accept-failing-source"
        if self.runs == 1:
            self.first = stdout
            failing = failing_verdicts(stdout)
            if failing and not self.accept_failing:
                raise LassiError(f"the source's own output reports a failure ({', '.join(map(repr, failing))}):"
                                 f" it would be a wrong baseline{go_on}")
            found = self._compare(stdout, stdout)
            if not found.conclusive:
                self.notice = (f"validation has little to compare: the source's output leaves {found.numbers} numbers"
                               f" after timing lines are masked (--min-output-numbers {self.min_numbers}), so"
                               f" candidates can be accepted only on the work they are counted doing; give"
                               f" --check-args with argument sets on which the program prints other numbers")
            return
        found = self._compare(self.first, stdout)
        if not found.same and not self.accept_failing:
            raise LassiError(f"the source's output differs between two runs on the same arguments ({found.reason}):"
                             f" candidates cannot be compared with it{go_on}")

    def _compare(self, expected: str, actual: str):
        return compare_outputs(expected, actual, self.rtol, self.atol, self.masks, self.min_numbers)
