"""`lassi-ee bench`: every program of a suite × its trials, each trial its own run, resumable as a whole.

    OUT/                      (default lassi-runs/bench-<suite name>)
      <program>/bench.json    what its trials were started with; time and sessions spent on each trial
      <program>/trial-1/      a run directory, as `lassi-ee optimize` writes it
      suite-report.md, suite-report.json

Running the same command again skips finished trials, resumes unfinished ones from their last
checkpoint and starts missing ones. Trials run one after another, never side by side: each
measurement needs the GPU (or the CPU) to itself.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.api import Listener, open_run, optimize, preflight, resume
from app.suite import Suite, SuiteProgram, load_suite, spell
from tools.errors import Interrupted, LassiError
from tools.llm.reply import ModelUnavailable
from tools.report.suite import TrialRecord, render_markdown, suite_figures, terminal_table
from tools.rundir import DEFAULT_ROOT, RunDir, read_jsonl, write_json, write_text

REPORT_NAME, FIGURES_NAME, LEDGER_NAME = "suite-report.md", "suite-report.json", "bench.json"


@dataclass
class BenchResult:
    out: Path
    figures: dict  # what suite-report.json holds
    started: int  # trials this call started, resumed and found finished
    resumed: int
    skipped: int

    @property
    def report_path(self) -> Path:
        return self.out / REPORT_NAME

    @property
    def table(self) -> str:
        return terminal_table(self.figures)


def default_out(suite_path: str | Path) -> Path:
    return Path(DEFAULT_ROOT) / f"bench-{Path(suite_path).stem}"


def bench(suite_path: str | Path, out: str | Path | None = None, *, say: Callable[[str], None] = lambda line: None,
          progress: Callable[[], Listener] | None = None) -> BenchResult:
    """Run (or continue) a suite and write its report. `say` gets one line per trial; `progress`, when
    given, makes the listener that follows each trial's steps."""
    suite = load_suite(suite_path)
    out = Path(out) if out is not None else default_out(suite_path)
    for program in suite.programs:  # every program is checked before the first trial starts
        try:
            preflight(program.folder, main=program.main, **program.settings)
        except LassiError as exc:
            raise LassiError(f"{suite.label}: program {program.name}: {exc.spelled(spell)}") from None
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LassiError(f"cannot create the suite's folder {out}: {exc.strerror}") from None
    counts = {"started": 0, "resumed": 0, "skipped": 0}
    with _exclusive(out):
        ledgers = {p.name: Ledger.open(out / p.name, p, suite) for p in suite.programs}
        for program in suite.programs:
            for number in range(1, program.trials + 1):
                how = _run_trial(program, number, out, ledgers[program.name], suite, say, progress)
                counts[how] += 1
        records = {p.name: [_record(p, n, out, ledgers[p.name]) for n in range(1, p.trials + 1)]
                   for p in suite.programs}
        figures = suite_figures(str(suite.path), suite.about, records)
        write_json(out / FIGURES_NAME, figures)
        write_text(out / REPORT_NAME, render_markdown(figures))
    return BenchResult(out.resolve(), figures, **counts)


class Ledger:
    """A program's bench.json: the spec its trials were started with, and per trial the wall-clock
    seconds and sessions (starts and resumes) the bench spent on it, and its last error."""

    def __init__(self, path: Path, data: dict):
        self.path, self.data = path, data

    @classmethod
    def open(cls, folder: Path, program: SuiteProgram, suite: Suite) -> "Ledger":
        path = folder / LEDGER_NAME
        spec = program.spec()
        if path.is_file():
            data = _json(path)
            if data.get("spec") != spec:
                raise LassiError(f"{folder} holds trials started with other settings ({_difference(data.get('spec') or {}, spec)});"
                                 f" restore them in {suite.label} or choose another --out")
            return cls(path, data)
        return cls(path, {"suite": str(suite.path), "spec": spec, "trials": {}})

    def trial(self, number: int) -> dict:
        return self.data["trials"].setdefault(str(number), {"seconds": 0.0, "sessions": 0, "error": ""})

    @contextmanager
    def session(self, number: int) -> Iterator[Callable[..., None]]:
        """Count a session and keep the trial's time up to date after every step, so a kill loses one step."""
        entry = self.trial(number)
        entry["sessions"] += 1
        spent, start = entry["seconds"], time.monotonic()

        def tick(*_) -> None:
            entry["seconds"] = round(spent + time.monotonic() - start, 3)
            write_json(self.path, self.data)

        tick()
        try:
            yield tick
        finally:
            tick()

    def note_error(self, number: int, error: str) -> None:
        """The trial's last error; an empty one once it ends well."""
        self.trial(number)["error"] = error
        write_json(self.path, self.data)


def _run_trial(program: SuiteProgram, number: int, out: Path, ledger: Ledger, suite: Suite,
               say: Callable[[str], None], progress: Callable[[], Listener] | None) -> str:
    """Start, resume or skip one trial; returns which of the three it did."""
    run_path = out / program.name / f"trial-{number}"
    label = f"{program.name} trial {number}/{program.trials}"
    state = _trial_state(run_path)
    if state == "finished":
        say(f"== {label}: finished earlier; skipped")
        return "skipped"
    say(f"== {label}: {'resuming' if state == 'started' else 'starting'} in {run_path}")
    follow = progress() if progress else None
    with ledger.session(number) as tick:
        def listener(node: str, update: dict, values: dict) -> None:
            if follow:
                follow(node, update, values)
            tick()

        try:
            if state == "started":
                result = resume(run_path, on_step=listener)
            else:
                _clear_unstarted(run_path)
                result = optimize(program.folder, program.args, main=program.main, run_dir=run_path,
                                  on_step=listener, **program.settings)
            error = "" if result.finished else "the run paused before its end"
        except Interrupted:
            raise Interrupted(f"interrupted; the suite is saved: continue it with `lassi-ee bench {suite.path}"
                              f" --out {out}`") from None
        except ModelUnavailable as exc:
            ledger.note_error(number, str(exc))
            raise ModelUnavailable(f"{label}: {exc}; or continue the whole suite with `lassi-ee bench"
                                   f" {suite.path} --out {out}`") from None
        except LassiError as exc:
            error = str(exc)
    ledger.note_error(number, error)
    say(f"== {label}: {'failed: ' + error if error else 'finished'}")
    return "resumed" if state == "started" else "started"


def _trial_state(run_path: Path) -> str:
    """new (no run yet), started (a run that has not ended) or finished."""
    if not RunDir(run_path).config.is_file():
        return "new"
    return "finished" if _state(run_path).get("stage") == "done" else "started"


def _state(run_path: Path) -> dict:
    with open_run(run_path) as (graph, config):
        return graph.get_state(config).values


def _clear_unstarted(run_path: Path) -> None:
    """A trial killed before its run.json was written leaves empty folders (and perhaps the temporary
    file of that write): remove them so the trial starts afresh. Anything else is not ours to delete."""
    if not run_path.exists():
        return
    stray = [p for p in run_path.rglob("*") if p.is_file() and not p.name.startswith(".run.json.")]
    if stray:
        raise LassiError(f"{run_path} holds files but no run.json (for example {stray[0].name}); move it away"
                         " and the bench starts that trial afresh")
    shutil.rmtree(run_path)


def _record(program: SuiteProgram, number: int, out: Path, ledger: Ledger) -> TrialRecord:
    run = RunDir(out / program.name / f"trial-{number}")
    entry = ledger.trial(number)
    state = _state(run.path) if run.config.is_file() else {}
    finished = state.get("stage") == "done"
    return TrialRecord(program=program.name, number=number, run_dir=str(run.path),
                       status="finished" if finished else "failed",
                       error="" if finished else (entry["error"] or "the run did not finish"),
                       state=state, llm_records=read_jsonl(run.llm_log), seconds=entry["seconds"])


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """One bench at a time per suite folder: two would resume the same trial side by side."""
    with (out / ".bench.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LassiError(f"{out} is in use by another lassi-ee bench: wait for it to end or choose another"
                             " --out") from None
        yield


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise LassiError(f"{path} is damaged ({exc}); move it away to start its program's trials afresh") from None


def _difference(then: dict, now: dict) -> str:
    """The first setting that differs, in words."""
    flat_then = {**{k: v for k, v in then.items() if k != "settings"}, **then.get("settings", {})}
    flat_now = {**{k: v for k, v in now.items() if k != "settings"}, **now.get("settings", {})}
    for key in sorted(set(flat_then) | set(flat_now)):
        if flat_then.get(key) != flat_now.get(key):
            return f"{key}: {flat_then.get(key)!r} then, {flat_now.get(key)!r} now"
    return "the record differs"
