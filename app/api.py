"""The Python API: `optimize`, `resume`, `profile`, `report`, `preflight`, and `open_run` for driving the graph yourself.

    from app.api import optimize
    result = optimize("examples/programs/heat2d", model="scripted:examples/sessions/heat2d/session.json")
    print(result.best["key"], result.report_path)

A run can pause before chosen nodes (`interrupt_before=["judge"]`), be inspected or edited through
`open_run`, and continue with `resume`, from its last checkpoint or from an earlier one (a replay).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from graph.builder import NODES, build_graph
from graph.context import ROLES, Context, make_context, run_words
from graph.preflight import check_run, check_tools
from graph.record import THREAD_ID, endpoints, run_record, servers
from graph.state import SOURCE
from tools.errors import Interrupted, LassiError
from tools.llm.reply import ModelUnavailable
from tools.llm.servers import ServerUnreachable
from tools.report.run_report import comparison_table, write_reports
from tools.rundir import RunDir, write_json

Listener = Callable[[str, dict, dict], None]  # (node, its update, the state after it); "model" for a wait,
# "measure" for a repeat


@dataclass
class Result:
    """A run's outcome. `state` is the latest graph state; the rest are views of it."""

    run_dir: Path
    state: dict
    paused_before: tuple[str, ...] = ()  # the nodes a paused run runs next; empty once it ended

    @property
    def finished(self) -> bool:
        return self.state.get("stage") == "done"

    @property
    def candidates(self) -> list[dict]:
        return sorted(self.state.get("candidates", {}).values(), key=lambda c: c["version"])

    @property
    def source(self) -> dict:
        return self.state["candidates"][SOURCE]

    @property
    def best(self) -> dict:
        return self.state["candidates"][self.state.get("best") or SOURCE]

    @property
    def table(self) -> list[dict]:
        """Source against best: energy, power and runtime with their change, as in the report."""
        return comparison_table(self.source, self.best, self.candidates)

    @property
    def report_path(self) -> Path | None:
        return self.run_dir / self.state["report"] if self.state.get("report") else None


def optimize(program: str | Path, args: Sequence[str] = (), *, model: str | None = None, main: str | None = None,
             run_dir: str | Path | None = None, on_step: Listener | None = None,
             interrupt_before: Sequence[str] = (), **settings) -> Result:
    """Optimize a program end to end; `settings` are the fields of graph.context.Context.

    With `interrupt_before` (node names) the run pauses before each of those nodes; `resume` continues it.
    """
    return _start(program, args, main, run_dir, on_step, interrupt_before, model=model, **settings)


def profile(program: str | Path, args: Sequence[str] = (), *, main: str | None = None,
            run_dir: str | Path | None = None, on_step: Listener | None = None, **settings) -> Result:
    """Stage 0 alone: build, run and measure the program through the same nodes as a full run."""
    return _start(program, args, main, run_dir, on_step, (), stop_after_profile=True, **settings)


def build(program: str | Path, *, main: str | None = None, run_dir: str | Path | None = None,
          on_step: Listener | None = None, **settings) -> Result:
    """Build the source alone, as a run would, and stop before running it: no GPU (nor model) is needed,
    so a CUDA program can be checked for an architecture (`arch`) on any machine with nvcc."""
    return _start(program, (), main, run_dir, on_step, ("executor",), stop_after_profile=True, runs=False,
                  **settings)


def resume(run_dir: str | Path, on_step: Listener | None = None, *, interrupt_before: Sequence[str] = (),
           checkpoint_id: str | None = None, model: str | None = None, base_url: str | None = None) -> Result:
    """Continue a run from its last checkpoint; finished candidates are not built or measured again.

    The run goes on with the models and servers it started with (run.json), whatever the environment
    says now; `model` (every role) and `base_url` move it to others, which run.json then records.

    `checkpoint_id` (from open_run's get_state_history) replays the run from that earlier checkpoint
    instead: the nodes after it run again, the first one even if `interrupt_before` names it, and their
    updates become the run's latest state (a fork; the replaced branch stays in the history).
    Candidates that run again are written over their folders.
    """
    run = RunDir(run_dir)
    record, ctx = _read_run(run, "resumed")
    if model or base_url:
        ctx = _moved_to(ctx, model, base_url)
    try:
        check_tools(record["language"], ctx)
    except ServerUnreachable as exc:
        raise LassiError(f"{exc}: this run's calls go there; start that server again, or move the run with"
                         f" `lassi-ee resume {run.path} --base-url URL` (and --model)") from None
    if model or base_url:
        _record_move(run, record, ctx)
    with run.writing(), open_run(run.path, interrupt_before=_pauses(interrupt_before)) as (graph, config):
        if checkpoint_id is not None:
            start = {"configurable": {**config["configurable"], "checkpoint_id": checkpoint_id}}
            if _snapshot(graph, start, run).created_at is None:
                raise LassiError(f"no checkpoint {checkpoint_id} in {run.checkpoints}")
            _stream(graph, None, config, ctx, on_step, run, start=_located(graph, start, run))
        else:
            snapshot = _snapshot(graph, config, run)
            if not snapshot.values:  # stopped before its first checkpoint: start it from run.json
                _check_nothing_lost(run)
                _stream(graph, _first_state(record, run), config, ctx, on_step, run)
            elif snapshot.tasks:  # to run, or run with its result saved but its step not yet checkpointed
                _stream(graph, None, config, ctx, on_step, run, start=_located(graph, config, run))
        return _result(graph, config, run)


def _moved_to(ctx: Context, model: str | None, base_url: str | None) -> Context:
    """The run's context on another model or server: a role keeps its recorded server unless the base URL
    is given or its provider changes."""
    providers = {role: ctx.model_for(role).partition(":")[0] for role in ROLES}
    changes = {"model": model, **{f"{role}_model": None for role in ROLES}} if model else {}
    moved = make_context(**{**ctx.to_dict(), **changes, "base_url": base_url or ctx.base_url})
    moved.endpoints = {role: url for role, url in ctx.endpoints.items()
                       if not base_url and moved.model_for(role).partition(":")[0] == providers[role]}
    moved.endpoints = endpoints(moved)
    return moved


def _record_move(run: RunDir, record: dict, ctx: Context) -> None:
    """run.json takes the new models and servers, and keeps the list of where the run was before."""
    from datetime import UTC, datetime

    moves = [*record.get("moves", []), {"time": datetime.now(UTC).isoformat(timespec="seconds"),
                                         "from": record.get("servers"), "to": servers(ctx)}]
    write_json(run.config, {**record, "context": ctx.to_dict(), "servers": servers(ctx), "moves": moves})


def run_context(run_dir: str | Path) -> Context:
    """The settings a run was started with, which `resume` continues it with."""
    return _read_run(RunDir(run_dir), "resumed")[1]


def report(run_dir: str | Path) -> Path:
    """Rebuild report.md and report.html of a finished run from its directory alone; no model is called.

    The pictures are drawn again from the measurement files, the model's comparison is the one the
    reporter kept in comparison.md, and the rest comes from the run's last checkpoint and llm.jsonl.
    """
    run = RunDir(run_dir)
    _, ctx = _read_run(run, "reported")
    state = {}
    if run.checkpoints.is_file():
        with open_run(run.path) as (graph, config):
            state = _snapshot(graph, config, run).values
    if state.get("stop_reason") == "profile only":
        raise LassiError(f"{run.path} holds a profile (Stage 0 alone), which has no report: its measurement is in"
                         f" {run.candidate(0, 'source') / 'measurement.json'}")
    if state.get("stage") != "done":
        raise LassiError(f"the run in {run.path} has not finished, so it has no report yet: continue it with"
                         f" `lassi-ee resume {run.path}` (its report is written when it ends)")
    if not run.comparison.is_file():
        raise LassiError(f"{run.comparison} is missing: without the reporter model's comparison the report cannot"
                         " be rebuilt (runs finished before the comparison was kept have only their report.md)")
    with run.writing(), _files_present(run):
        return write_reports(run, {**state, "run_dir": str(run.path)}, ctx.models(), ctx.base_url)


def _read_run(run: RunDir, purpose: str) -> tuple[dict, Context]:
    """A run's run.json record and its context; a missing or damaged one is the user's error."""
    if not run.config.is_file():
        raise LassiError(f"no run in {run.path}: run.json is missing (give the directory a run was started in)")
    try:
        record = json.loads(run.config.read_text())
        return record, Context(**record["context"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LassiError(f"{run.config} is damaged ({exc.__class__.__name__}: {exc}); the run cannot be"
                         f" {purpose}") from None


def _snapshot(graph, config: dict, run: RunDir):
    """The checkpoint `config` names; a damaged checkpoint file is one line, not a traceback."""
    try:
        return graph.get_state(config)
    except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as exc:
        raise LassiError(f"{run.checkpoints} is damaged ({exc.__class__.__name__}: {exc}); the run's files are"
                         f" intact, but it cannot continue from them: start it again from {run.config}") from None


def _located(graph, config: dict, run: RunDir) -> dict:
    """Continue where the run directory lies now: a copied or moved run writes to itself, never to the original.

    Paths in state are relative to the run directory, so only the directory itself is told again.
    """
    if Path(_snapshot(graph, config, run).values.get("run_dir", run.path)).resolve() == run.path:
        return config
    return graph.update_state(config, {"run_dir": str(run.path)})


@contextmanager
def _files_present(run: RunDir) -> Iterator[None]:
    """A file of the run that was deleted (a candidate's folder, its source) is one line naming it."""
    try:
        yield
    except FileNotFoundError as exc:
        raise LassiError(f"{exc.filename} is missing: the run directory {run.path} lost a file it needs; restore it"
                         " (or the whole run directory from a copy) and try again") from None


def _check_nothing_lost(run: RunDir) -> None:
    """A run without checkpoints starts from run.json, unless candidates show it had begun: then they were lost."""
    if any(run.candidates.iterdir()):
        raise LassiError(f"{run.checkpoints} holds no checkpoint although {run.candidates} holds candidates (was its"
                         f" {run.checkpoints.name}-wal left behind when the run was copied?); resuming would start"
                         " the run again from Stage 0 over them: restore the checkpoint files, or start a new run")


@contextmanager
def open_run(run_dir: str | Path, **compile_options) -> Iterator[tuple[object, dict]]:
    """The compiled graph with the run's SQLite checkpointer, and the config naming its thread.

    For driving a run yourself: get_state, get_state_history, update_state, stream with interrupts.
    `compile_options` go to the graph's compile (e.g. interrupt_before=["judge"]).
    """
    path = RunDir(run_dir).checkpoints
    connection = sqlite3.connect(path, check_same_thread=False)
    try:
        yield (build_graph(checkpointer=SqliteSaver(connection), **compile_options),
               {"configurable": {"thread_id": THREAD_ID}})
    finally:
        connection.close()


def preflight(program: str | Path, *, main: str | None = None, **settings) -> Context:
    """Every check `optimize` makes before it starts, without starting: settings, program, tools, models,
    knowledge. For callers that start many runs later (`lassi-ee bench`) and should fail before the first."""
    return _prepare(program, main, settings)[1]


def _prepare(program, main, settings: dict, runs: bool = True):
    ctx = make_context(**settings)
    ctx.endpoints = endpoints(ctx)  # resolved once, from this shell's environment, and kept in run.json
    try:
        return check_run(program, main, ctx, runs), ctx
    except ServerUnreachable as exc:
        raise LassiError(f"{exc}: start it, or give the server's address with {{setting}}", setting="base_url") from None


def _start(program, args, main, run_dir, on_step, interrupt_before, runs: bool = True, **settings) -> Result:
    pauses = _pauses(interrupt_before)
    prog, ctx = _prepare(program, main, settings, runs)
    if ctx.run_command:
        if args:
            raise LassiError("{setting} names the program's arguments already: give them there alone",
                             setting="run_command")
        args = run_words(ctx)[1:]
    if run_dir is not None and RunDir(run_dir).config.exists():
        raise LassiError(f"{run_dir} already holds a run: resume it with `lassi-ee resume {run_dir}`"
                         " or choose another {setting}", setting="run_dir")
    run = RunDir.create(ctx.runs_root, prog.folder.name, run_dir)
    record = run_record(prog, args, ctx)
    write_json(run.config, record)
    with run.writing(), open_run(run.path, interrupt_before=pauses) as (graph, config):
        _stream(graph, _first_state(record, run), config, ctx, on_step, run)
        return _result(graph, config, run)


def _result(graph, config: dict, run: RunDir) -> Result:
    snapshot = graph.get_state(config)
    return Result(run.path, snapshot.values, tuple(snapshot.next))


def _pauses(names: Sequence[str]) -> list[str]:
    """The nodes to pause before, checked, since a misspelt one would silently never pause."""
    if unknown := [name for name in names if name not in NODES]:
        raise LassiError(f"cannot pause before {unknown[0]!r}: the graph's nodes are {', '.join(NODES)}")
    return list(names)


def _first_state(record: dict, run: RunDir) -> dict:
    """A run's input, from its run.json record: the same for a new run and one resumed before its first step."""
    return {"program": record["program"], "main": record["main"], "args": record["args"], "run_dir": str(run.path)}


def _stream(graph, state, config: dict, ctx: Context, on_step: Listener | None, run: RunDir,
            start: dict | None = None) -> None:
    """Run the graph from `start` (default: the thread's latest checkpoint) until it ends or pauses.

    A step's updates may stream out before its checkpoint is saved, its full state only after: `on_step`
    hears of a step with that state, so what it reports survives a kill.
    """
    steps: list[tuple[str, dict]] = []
    latest: dict = {}
    try:
        with _files_present(run):
            for mode, chunk in graph.stream(state, start or config, context=ctx,
                                            stream_mode=["updates", "values", "custom"], durability="sync"):
                if mode == "custom":  # a node's word while it works: a model call to be tried again, a repeat measured
                    if on_step is not None and isinstance(chunk, dict) and "waiting" in chunk:
                        on_step("model", {"waiting": chunk["waiting"]}, latest)
                    if on_step is not None and isinstance(chunk, dict) and "measuring" in chunk:
                        on_step("measure", {"measuring": chunk["measuring"]}, latest)
                    continue
                if mode == "updates":
                    steps += [(node, change) for node, change in chunk.items() if isinstance(change, dict)]
                    continue
                latest = chunk
                if on_step is not None:  # the chunk is the state after those steps, their checkpoint saved
                    for node, change in steps:
                        on_step(node, change, chunk)
                steps.clear()
    except ModelUnavailable as exc:
        raise ModelUnavailable(f"{exc}; the run is saved: continue it with `lassi-ee resume {run.path}`"
                               " once the model answers") from None
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; the run is saved: continue it with `lassi-ee resume {run.path}`") from None
