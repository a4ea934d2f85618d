"""`lassi-ee bench`: every program of a suite × its trials, each trial its own run, resumable as a whole.

    OUT/                      (default lassi-runs/bench-<suite name>)
      <program>/bench.json    what its trials were started with; time and sessions spent on each trial
      <program>/trial-1/      a run directory, as `lassi-ee optimize` writes it
      suite-report.md, suite-report.json

Running the same command again skips finished trials, resumes unfinished ones from their last
checkpoint and starts missing ones. By default trials run one after another; with `gpus` or
`cpus_per_trial` they run side by side, one per GPU or per set of cores (app/parallel.py), and with
`executor="slurm"` each is a Slurm job (app/slurm.py). Every trial holds its GPU's or its cores' locks
for its whole life (app/slots.py) and a lock of its own, so no two ever share a device or run at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.api import Listener, open_run, optimize, preflight, resume, run_context
from app.slots import Slot, core_slots, gpu_slots
from app.suite import Suite, SuiteProgram, load_suite, spell
from tools.errors import Interrupted, LassiError
from tools.gpu import find_gpu
from tools.llm.reply import ModelUnavailable
from tools.program import load_program
from tools.report.suite import TrialRecord, render_markdown, suite_figures, terminal_table
from tools.rundir import DEFAULT_ROOT, RunDir, read_jsonl, write_json, write_text

REPORT_NAME, FIGURES_NAME, LEDGER_NAME = "suite-report.md", "suite-report.json", "bench.json"
EXECUTORS = ("local", "slurm")


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
          progress: Callable[[], Listener] | None = None, gpus: str | None = None, cpus_per_trial: int | None = None,
          executor: str = "local") -> BenchResult:
    """Run (or continue) a suite and write its report. `say` gets one line per trial; `progress`, when
    given, makes the listener that follows each trial's steps. `gpus` ("0,1", UUIDs or "all") and
    `cpus_per_trial` run trials side by side on this machine; `executor="slurm"` submits each to Slurm."""
    suite = load_suite(suite_path)
    out = Path(out) if out is not None else default_out(suite_path)
    if executor not in EXECUTORS:
        raise LassiError(f"--executor takes {' or '.join(EXECUTORS)}, not {executor!r}")
    if executor == "slurm" and gpus is not None:
        raise LassiError("--gpus chooses GPUs of this machine; on Slurm give gpus-per-trial in the suite's [slurm]"
                         " table")
    for program in suite.programs:  # every program is checked before the first trial starts
        try:
            preflight(program.folder, main=program.main, **program.settings)
        except LassiError as exc:
            raise LassiError(f"{suite.label}: program {program.name}: {exc.spelled(spell)}") from None
    if executor == "slurm":
        from app.slurm import slurm_ready

        slurm_ready()
    pools = {"cuda": gpu_slots(gpus), "cpp": core_slots(cpus_per_trial)} if executor == "local" else {}
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LassiError(f"cannot create the suite's folder {out}: {exc.strerror}") from None
    counts = {"started": 0, "resumed": 0, "skipped": 0}
    with _exclusive(out):
        ledgers = {p.name: Ledger.open(out / p.name, p, suite) for p in suite.programs}
        waiting = []
        for program in suite.programs:
            for number in range(1, program.trials + 1):
                state = trial_state(out / program.name / f"trial-{number}")
                if state == "finished":
                    say(f"== {trial_label(program, number)}: finished earlier; skipped")
                    counts["skipped"] += 1
                else:
                    waiting.append((program, number))
                    counts["resumed" if state == "started" else "started"] += 1
        if executor == "slurm":
            from app.slurm import run_on_slurm

            run_on_slurm(suite, out, waiting, say, cpus_per_trial)
        elif gpus is not None or cpus_per_trial is not None:
            from app.parallel import run_side_by_side

            run_side_by_side(suite, out, [(p, n, _slot_choices(p, n, out, pools)) for p, n in waiting], say)
        else:
            for program, number in waiting:
                _run_trial(program, number, out, ledgers[program.name], suite,
                           _slot_choices(program, number, out, pools)[0], say, progress)
        ledgers = {p.name: Ledger.open(out / p.name, p, suite) for p in suite.programs}  # as the trials left them
        records = {p.name: [_record(p, n, out, ledgers[p.name]) for n in range(1, p.trials + 1)]
                   for p in suite.programs}
        figures = suite_figures(str(suite.path), suite.about, records)
        write_json(out / FIGURES_NAME, figures)
        write_text(out / REPORT_NAME, render_markdown(figures))
    return BenchResult(out.resolve(), figures, **counts)


def run_trial(suite_path: str | Path, out: str | Path, program_name: str, number: int, slot: Slot, *,
              say: Callable[[str], None], progress: Callable[[], Listener] | None = None) -> str:
    """One trial of a suite, on its slot: what a worker process or a Slurm job runs."""
    suite = load_suite(suite_path)
    program = next(p for p in suite.programs if p.name == program_name)
    out = Path(out)
    return _run_trial(program, number, out, Ledger.open(out / program.name, program, suite), suite, slot, say,
                      progress)


def status(suite_path: str | Path, out: str | Path | None = None) -> str:
    """A table of the suite's trials: not started, queued, running, paused, finished or failed, with the id of
    the job (a Slurm job, or a process of this machine) that last ran each, and the last error."""
    from app.slurm import queue_states

    suite = load_suite(suite_path)
    out = Path(out) if out is not None else default_out(suite_path)
    entries = []
    for program in suite.programs:
        ledger = out / program.name / LEDGER_NAME
        trials = _json(ledger).get("trials", {}) if ledger.is_file() else {}
        for number in range(1, program.trials + 1):
            entries.append((program, number, trials.get(str(number), {})))
    on_slurm = any(entry.get("job", "pid ")[:4] != "pid " for *_, entry in entries)
    queue = queue_states() if on_slurm else {}
    rows = [("trial", "state", "job", "error")]
    for program, number, entry in entries:
        job, state = entry.get("job", ""), trial_state(out / program.name / f"trial-{number}")
        if job in queue:
            state = queue[job]
        elif _held(trial_lock_path(out, program.name, number)):
            state = "running"
        elif state != "finished":
            state = "failed" if entry.get("error") else {"started": "paused", "new": "not started"}[state]
        rows.append((trial_label(program, number), state, job or "—", entry.get("error", "")))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + ("  " + row[3] if row[3] else "")
                     for row in rows).rstrip()


def _held(path: Path) -> bool:
    """Whether some process holds the lock file now."""
    if not path.is_file():
        return False
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def trial_label(program: SuiteProgram, number: int) -> str:
    return f"{program.name} trial {number}/{program.trials}"


def _slot_choices(program: SuiteProgram, number: int, out: Path, pools: dict[str, list[Slot]]) -> list[Slot]:
    """The slots a trial may run on. A C++ trial takes any set of cores. A CUDA trial takes any of the
    GPUs given, or its program's GPU; once started, it stays on the GPU it started on, since its
    candidates are compared with a source measured there."""
    if _language(program) != "cuda":
        return pools["cpp"]
    run_path = out / program.name / f"trial-{number}"
    if not pools["cuda"] or trial_state(run_path) == "started":
        started_on = run_context(run_path).gpu if trial_state(run_path) == "started" else program.settings.get("gpu")
        uuid = find_gpu(started_on).uuid
        if pools["cuda"] and Slot(gpu=uuid) not in pools["cuda"]:
            raise LassiError(f"{trial_label(program, number)} was started on GPU {uuid}, which --gpus does not"
                             " name: add it, so the trial goes on where its source was measured")
        return [Slot(gpu=uuid)]
    return pools["cuda"]


class Ledger:
    """A program's bench.json: the spec its trials were started with, and per trial the wall-clock
    seconds and sessions (starts and resumes) the bench spent on it, its last error and, once it ran as a
    job, the job's id. Trials running side by side update their own entries under a lock."""

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
        ledger = cls(path, {"suite": str(suite.path), "spec": spec, "trials": {}})
        write_json(path, ledger.data)  # before any trial starts: workers open it
        return ledger

    def trial(self, number: int) -> dict:
        return {"seconds": 0.0, "sessions": 0, "error": "", **self.data["trials"].get(str(number), {})}

    def update(self, number: int, **fields) -> None:
        """Change a trial's entry in the file as it is now, which other trials may have changed."""
        with (self.path.parent / f".{LEDGER_NAME}.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self.data = _json(self.path) if self.path.is_file() else self.data
            self.data["trials"][str(number)] = {**self.trial(number), **fields}
            write_json(self.path, self.data)

    @contextmanager
    def session(self, number: int) -> Iterator[Callable[..., None]]:
        """Count a session and keep the trial's time up to date after every step, so a kill loses one step."""
        spent, start = self.trial(number)["seconds"], time.monotonic()
        self.update(number, sessions=self.trial(number)["sessions"] + 1)

        def tick(*_) -> None:
            self.update(number, seconds=round(spent + time.monotonic() - start, 3))

        try:
            yield tick
        finally:
            tick()

    def note_error(self, number: int, error: str) -> None:
        """The trial's last error; an empty one once it ends well."""
        self.update(number, error=error)


def _run_trial(program: SuiteProgram, number: int, out: Path, ledger: Ledger, suite: Suite, slot: Slot,
               say: Callable[[str], None], progress: Callable[[], Listener] | None) -> str:
    """Start, resume or skip one trial on its slot; returns which of the three it did."""
    run_path = out / program.name / f"trial-{number}"
    label = trial_label(program, number)
    with _trial_lock(out, program, number), slot.hold():
        state = trial_state(run_path)
        if state == "finished":
            say(f"== {label}: finished earlier; skipped")
            return "skipped"
        say(f"== {label}: {'resuming' if state == 'started' else 'starting'} in {run_path} ({slot.label})")
        follow = progress() if progress else None
        ledger.update(number, job=os.environ.get("SLURM_JOB_ID") or f"pid {os.getpid()}")
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
                    own_gpu = {"gpu": slot.gpu} if slot.gpu and _language(program) == "cuda" else {}
                    result = optimize(program.folder, program.args, main=program.main, run_dir=run_path,
                                      on_step=listener, **{**program.settings, **own_gpu})
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


@contextmanager
def _held_alone(lock: Path, busy: str) -> Iterator[None]:
    """An exclusive lock on `lock` for the block, or `busy` as the error where another process holds it."""
    with lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LassiError(busy) from None
        yield


def _trial_lock(out: Path, program: SuiteProgram, number: int):
    """A trial runs in one process at a time, whichever bench, worker or job asks."""
    return _held_alone(trial_lock_path(out, program.name, number),
                       f"{trial_label(program, number)} is running in another process (a bench, a worker"
                       " or a Slurm job): wait for it to end")


def trial_lock_path(out: Path, program_name: str, number: int) -> Path:
    return out / program_name / f".trial-{number}.lock"


def _language(program: SuiteProgram) -> str:
    return load_program(program.folder, program.main).language


def trial_state(run_path: Path) -> str:
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


def _exclusive(out: Path):
    """One bench at a time per suite folder: two would resume the same trial side by side."""
    return _held_alone(out / ".bench.lock", f"{out} is in use by another lassi-ee bench: wait for it to end or"
                       " choose another --out")


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
