"""Drive the `judge` node directly on real builds and runs, without the pipeline or the energy meter.

A `Bench` builds and runs a program's source once, then judges candidate sources against it the way
the graph does (the source's reference runs are made at the first judgement and kept on its record).
The judge model is a scripted one, so what is tested is the layers around it.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from graph.context import make_context
from graph.state import SOURCE, new_candidate
from nodes import judge
from nodes.shared.witness import offered_witness
from tests.helpers import FIXTURES, ROOT
from tools.build import BINARY_NAME, build, build_command
from tools.program import load_program, sha256_text, stage_workspace
from tools.report.document import Items, block_markdown
from tools.report.run_report import validation_item
from tools.rundir import RunDir, version_label, write_text
from tools.sandbox.runner import run_program

EXAMPLES = ROOT / "examples" / "programs"
CORPUS = FIXTURES / "validation-corpus"
BENCHMARKS = FIXTURES / "benchmarks"  # programs shaped like public benchmarks; their variants are in CORPUS
BENCHMARK_PROGRAMS = ("triad", "histogram", "bsearch", "spmv")
ALWAYS_VALID = "Looks equivalent.\nVERDICT: VALID"  # a judge that would accept anything
TIME_LIMIT_S = 120.0


@dataclass
class Verdict:
    """What the judge node decided about one candidate, and what the model was shown."""

    record: dict
    prompt: str | None  # None when the model was not asked

    @property
    def valid(self) -> bool:
        return self.record["validation"]["valid"]

    def check(self, name: str) -> dict:
        return next(c for c in self.record["validation"]["checks"] if c["name"] == name)

    def failed_layer(self) -> str | None:
        return next((c["name"] for c in self.record["validation"]["checks"] if c["ok"] is False), None)

    def in_report(self) -> str:
        """The candidate's entry in the report's validation list, as Markdown."""
        return block_markdown(Items([validation_item(self.record)]))


@dataclass
class Bench:
    program: Path  # the program folder (the source is its main file)
    args: str  # the main arguments, as one shell line
    folder: Path  # the run directory
    judge_answer: str  # what the scripted judge says, every time
    arch: str | None = None  # the GPU's architecture for nvcc
    language: str | None = None  # the language the judge is told (default: the program's)
    source: dict = field(default_factory=dict)
    built: dict[str, dict] = field(default_factory=dict)  # code's sha256 -> its candidate record, built and ran

    def __post_init__(self) -> None:
        self.prog = load_program(self.program)
        self.run = RunDir.create(self.folder.parent, self.folder.name, self.folder)
        session = self.folder / "judge-session.json"
        session.write_text(json.dumps({"about": "a judge that always gives the same answer",
                                       "responses": {"judge": [self.judge_answer]}}))
        self.model = f"scripted:{session}"
        self.source = self._built_and_ran(0, self.prog.read_main())

    def judge(self, code: str, check_args: list[str] = (), strict: bool = False, witness: dict | None = None,
              **settings) -> Verdict:
        """Build and run `code` as the next candidate (once per distinct code), then judge it against the source,
        held to `witness` (a record from offer_witness) where one is given."""
        candidate = self.built.get(sha256_text(code)) or self._built_and_ran(len(self.built) + 1, code)
        self.built[candidate["sha256"]] = candidate
        context = make_context(model=self.model, check_args=list(check_args), strict_workload=strict, **settings)
        state = {**self._state(), "candidates": {SOURCE: self.source, candidate["key"]: candidate},
                 "current": candidate["key"], **({"witness": witness} if witness else {})}
        update = judge.node(state, SimpleNamespace(context=context))
        self.source = update["candidates"][SOURCE]
        asked = "judge" in (update.get("llm_calls") or {})
        return Verdict(update["candidates"][candidate["key"]], self._last_prompt() if asked else None)

    def offer_witness(self, code: str, name: str, check_args: list[str] = (), **settings) -> dict:
        """The source's witness record for `code` (accepted, or refused and why), tried as Stage 0 tries one."""
        context = make_context(model=self.model, check_args=list(check_args), **settings)
        return offered_witness({**self._state(), "candidates": {SOURCE: self.source}}, context, code, name=name)

    def _state(self) -> dict:
        return {"program": str(self.prog.folder), "args": shlex.split(self.args), "run_dir": str(self.run.path),
                "language": self.language or self.prog.language, "llm_calls": {}}

    def source_output(self) -> str:
        return self.run.at(self.source["run"]["stdout_path"]).read_text()

    def _built_and_ran(self, version: int, code: str) -> dict:
        folder = self.run.candidates / version_label(version)
        work = folder / "work"
        stage_workspace(self.prog, work, {self.prog.main: code})
        built = build(work, build_command(self.prog.language, self.prog.main, arch=self.arch))
        assert built.ok, f"{version_label(version)} did not build:\n{built.log}"
        result = run_program([str(work / BINARY_NAME), *shlex.split(self.args)], work, TIME_LIMIT_S)
        assert result.ok, f"{version_label(version)} {result.failure(TIME_LIMIT_S)}:\n{result.stderr[-2000:]}"
        write_text(folder / "stdout.txt", result.stdout)
        record = new_candidate(self.run, version, None if version == 0 else SOURCE, "source" if version == 0 else "zero-shot",
                               "test", folder, work / self.prog.main, sha256_text(code))
        run = {**result.to_dict(), "time_limit_s": TIME_LIMIT_S, "stdout_path": self.run.relative(folder / "stdout.txt")}
        return {**record, "status": "ran", "run": run}

    def _last_prompt(self) -> str:
        lines = self.run.llm_log.read_text().splitlines()
        return json.loads(lines[-1])["prompt"]


def corpus_code(program: str, case: str, expected_output: str = "") -> str:
    """A corpus file; a file that prints a recorded answer gets the source's output filled in."""
    code = (CORPUS / program / case).read_text()
    return code.replace('#define EXPECTED_OUTPUT ""', f"#define EXPECTED_OUTPUT {json.dumps(expected_output)}")
