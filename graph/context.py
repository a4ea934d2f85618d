"""Run settings: LangGraph's context (not checkpointed), saved in run.json so a resume can restore them.

Each setting is declared once, as a field of `Context` made by `setting(...)`: its default, its
description, its bounds or choices, its group and the faces that offer it. Everything else is derived
from that declaration: the CLI's options (app/cli.py), a suite file's keys (app/suite.py), Studio's
configuration form (LangGraph reads the descriptions and bounds through pydantic), and the range
checks with their messages (`make_context`). A message names a setting as `{setting}`; each face
spells it its own way (`--max-iterations`, `max-iterations`, `max_iterations=`).
"""

from __future__ import annotations

import codecs
import os
import re
import shlex
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import cache
from pathlib import Path

from knowledge import parse_spec
from tools.cache import default_cache_dir
from tools.energy.decision import Rule
from tools.errors import LassiError
from tools.sandbox import MODES as SANDBOX_MODES
from tools.sandbox import Limits, MiB

ROLES = ("coder", "judge", "summarizer", "planner", "reporter")
DEFAULT_MODEL = "openai:o3-mini"
GROUPS = {"model": "models and knowledge", "budgets": "search budgets", "measurement": "measurement",
          "build": "building", "validation": "validation", "containment": "containment", "paths": "paths"}
BOTH = ("optimize", "profile")  # the commands that build, run and measure a program
BUILDING = (*BOTH, "build")  # the commands that build a program (`build` alone does not run it)
WITNESS_WORDS = ("model", "off")  # the witness setting's words; anything else is the path of the user's witness


def setting(default, description: str, *, group: str, commands: tuple[str, ...] = ("optimize",),
            ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None,
            choices: tuple[str, ...] | None = None, why: str = "", face: str | None = None, metavar: str | None = None,
            env: str | None = None, numbers_as_text: bool = False, factory=None):
    """A Context field with everything the faces need to offer and check it.

    commands: the CLI commands (and so the suite) that offer it; () keeps it to Python and Studio.
    ge/gt/le/lt, choices: its bounds, checked by make_context and shown in Studio's form.
    why: said after a bound is broken ("one run gives no interval").
    face: the name the CLI and suites use when it differs from the field's (`--flags` for compile_flags).
    env: an environment variable that replaces the default.
    numbers_as_text: a suite may give it as a number (a GPU index).
    factory: makes the default when a Context is made (a default that depends on the environment).
    """
    if group not in GROUPS:
        raise ValueError(f"unknown settings group {group!r}")
    meta = {"description": description, "group": group, "commands": commands, "why": why, "face": face,
            "metavar": metavar, "env": env, "numbers_as_text": numbers_as_text, "choices": choices,
            **{k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}}
    if choices:
        meta["json_schema_extra"] = {"enum": list(choices)}
    if env is not None:
        return field(default_factory=lambda: os.environ.get(env) or default, metadata=meta)
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    if isinstance(default, (list, dict)):
        return field(default_factory=type(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(kw_only=True)
class Context:
    # models and knowledge
    model: str = setting(DEFAULT_MODEL, "provider:model for every role, e.g. openai:o3-mini, ollama:qwen2.5-coder,"
                         " scripted:PATH (a recorded session) (default $LASSI_MODEL or openai:o3-mini)", group="model",
                         env="LASSI_MODEL", commands=("optimize", "resume"))
    coder_model: str | None = setting(None, "model for the coder role (default: model)", group="model")
    judge_model: str | None = setting(None, "model for the judge role (default: model)", group="model")
    summarizer_model: str | None = setting(None, "model for the summarizer role (default: model)", group="model")
    planner_model: str | None = setting(None, "model for the planner role (default: model)", group="model")
    reporter_model: str | None = setting(None, "model for the reporter role (default: model)", group="model")
    base_url: str | None = setting(None, "base URL of an OpenAI-compatible server (default: OPENAI_BASE_URL or"
                                   " OpenAI's API for openai:, the usual local port for the others)", group="model",
                                   commands=("optimize", "resume"))
    api_key_env: str | None = setting(None, "environment variable holding the model server's API key (default:"
                                      " OPENAI_API_KEY for openai:, VLLM_API_KEY for vllm:, OLLAMA_API_KEY,"
                                      " LMSTUDIO_API_KEY, LLAMACPP_API_KEY)", group="model", metavar="NAME")
    endpoints: dict[str, str | None] = setting({}, "the server each role's model was reached at when the run"
                                               " started, by role: a resume stays on them", group="model", commands=())
    max_llm_retries: int = setting(5, "retries of a failing model call, with growing waits", group="model", ge=0)
    llm_backoff_s: float = setting(2.0, "seconds before the first retry of a failing model call; doubled each time",
                                   group="model", commands=(), ge=0)
    request_timeout_s: float = setting(300.0, "seconds one model request may take before it is given up and retried",
                                       group="model", gt=0, face="request-timeout", metavar="SECONDS")
    retry_budget_s: float = setting(900.0, "seconds one model call may spend on its retries in all before the run"
                                    " stops (it can be resumed)", group="model", gt=0, face="retry-budget",
                                    metavar="SECONDS")
    max_output_tokens: int = setting(16384, "longest answer, in tokens, a model may give (sent to the server)",
                                     group="model", ge=256, metavar="N")
    knowledge: list[str] = setting([], "a PDF, Markdown, HTML or text document added to the knowledge (repeatable);"
                                   " select part of it with #pages=12-15 (PDF), #sections=Heading;2.1 (Markdown, HTML,"
                                   " PDF bookmarks) or #lines=10-80 (text)", group="model", metavar="PATH[#SELECTION]")
    # search budgets
    max_iterations: int = setting(10, "Stage 3 candidates at most (fixes not counted)", group="budgets", ge=1)
    max_corrections: int = setting(5, "fixes per candidate before it is dropped", group="budgets", ge=0)
    max_answer_fixes: int = setting(2, "times the coder is asked again for one answer that cannot be used (cut off,"
                                    " an edit that does not apply, no code)", group="budgets", ge=0)
    temperature_start: float = setting(0.2, "sampling temperature of the first plan step", group="budgets", ge=0, le=2, metavar="T")
    temperature_step: float = setting(0.2, "how much the temperature rises after a step that saves nothing",
                                      group="budgets", gt=0, le=2, metavar="T")
    temperature_ceiling: float = setting(0.8, "Stage 3 ends once the temperature passes this", group="budgets",
                                         ge=0, le=2, metavar="T")
    min_improvement: float = setting(0.02, "fraction by which a candidate must beat the best, significantly",
                                     group="budgets", ge=0, lt=1, metavar="FRACTION")
    error_budget: float = setting(0.05, "chance at most that a run declares better a candidate that saves nothing,"
                                  " over all its candidates (each confirmation spends half of what is left)",
                                  group="budgets", gt=0, lt=1, metavar="FRACTION")
    # measurement
    gpu: str | None = setting(None, "GPU to run and measure on: NVML index or UUID (default 0)", group="measurement",
                              commands=BOTH, numbers_as_text=True)
    min_repeats: int = setting(3, "measured runs of the source, and pairs of a candidate and the best per round, at least", group="measurement", commands=BOTH, ge=2,
                               why="one run gives no interval", face="repeats")
    max_repeats: int = setting(10, "measured runs of the source, and pairs of a candidate and the best per round, at most", group="measurement", commands=BOTH, ge=2,
                               face="repeats")
    target_ci: float = setting(0.02, "stop repeating once the 95% interval of the objective (of a candidate's change"
                               " against the best) is within this fraction of its mean", group="measurement", commands=BOTH, gt=0, lt=1, metavar="FRACTION")
    repeat_budget_s: float = setting(300.0, "seconds one candidate's repeats may take before repeating stops",
                                     group="measurement", commands=BOTH, gt=0, face="repeat-budget", metavar="SECONDS")
    confirm_pairs: int = setting(10, "pairs of source and best runs, measured alternately after the search, that"
                                 " give the report's headline saving", group="measurement", ge=2,
                                 why="one pair gives no interval", metavar="N")
    time_limit: float | None = setting(None, "seconds a run may take (default: 600 for the source, 3x its runtime"
                                       " + 10 for candidates)", group="measurement", commands=BOTH, gt=0, metavar="SECONDS")
    # building
    compile_flags: str | None = setting(None, "compiler flags replacing the defaults (the GPU's -arch is still added)",
                                        group="build", commands=BUILDING, face="flags")
    extra_flags: str | None = setting(None, "compiler flags added to the defaults, e.g. \"-DNDEBUG -lineinfo\"",
                                      group="build", commands=BUILDING)
    arch: str | None = setting(None, "CUDA architecture to build for, e.g. sm_90 (default: the GPU's, when one"
                               " answers; otherwise nvcc's own)", group="build", commands=BUILDING, metavar="SM")
    sources: list[str] = setting([], "a source file to compile, inside the program folder (repeatable; default:"
                                 " every CUDA or C++ source of the folder but those with a main() of their own)",
                                 group="build", commands=BUILDING, face="source", metavar="FILE")
    include_dirs: list[str] = setting([], "a folder of headers outside the program folder (repeatable; relative to"
                                      " the program folder); builds see it read-only", group="build",
                                      commands=BUILDING, face="include-dir", metavar="DIR")
    libraries: list[str] = setting([], "a library to link, e.g. cublas for -lcublas (repeatable)", group="build",
                                   commands=BUILDING, face="lib", metavar="NAME")
    build_command: str | None = setting(None, "your own build command, run by the shell in the program's copy,"
                                        " e.g. \"make ARCH=sm_90\" (default: one compiler line)", group="build",
                                        commands=BUILDING, face="build", metavar='"COMMAND"')
    configure_command: str | None = setting(None, "a command run once before the first build, e.g. \"cmake -S . -B"
                                            " build\"; every candidate is then built in that configured tree",
                                            group="build", commands=BUILDING, face="configure", metavar='"COMMAND"')
    binary: str | None = setting(None, "the program your own build produces, relative to the program folder",
                                 group="build", commands=BUILDING, metavar="PATH")
    run_command: str | None = setting(None, "the command line of a run, e.g. \"./main 10000 1\" (default: the"
                                      " binary with the program's arguments)", group="build", commands=BOTH, face="run",
                                      metavar='"COMMAND"')
    edit: list[str] = setting([], "a file the model may change, inside the program folder (repeatable; default"
                              " the main source); the rest of the folder stays as it is", group="build",
                              metavar="FILE")
    encoding: str | None = setting(None, "text encoding of the sources, e.g. latin-1 (default: UTF-8, else"
                                   " Windows-1252, else Latin-1); changed files are written back in it",
                                   group="build", commands=BUILDING)
    # validation
    rtol: float = setting(1e-6, "relative tolerance for numbers in the output", group="validation", ge=0, metavar="X")
    atol: float = setting(1e-12, "absolute tolerance for numbers in the output", group="validation", ge=0, metavar="X")
    output_masks: list[str] = setting([], "ignore output lines matching this regular expression when comparing"
                                      " outputs, beside the built-in timing patterns (repeatable)", group="validation",
                                      face="mask", metavar="REGEX")
    check_args: list[str] = setting([], "another argument set (one quoted string; repeatable) on which source and"
                                    " candidates must print the same output", group="validation", metavar='"ARGS"')
    strict_workload: bool = setting(False, "reject candidates that do less work than the source: fewer kernel launches"
                                    " or threads (CUPTI, CUDA), markedly fewer instructions (callgrind, C++);"
                                    " otherwise such drops are flagged", group="validation")
    verify_flags: str | None = setting(None, "compiler flags added for a verification build (e.g. -DVERIFY), built and"
                                       " run once per candidate on the main arguments: it must report no failure and"
                                       " print what the source's verification build prints", group="validation",
                                       metavar='"FLAGS"')
    check_cmd: str | None = setting(None, "a shell command that checks a run, given its output file as $LASSI_OUTPUT"
                                    " and its working folder as $LASSI_WORKDIR (run there): exit 0 passes; the source"
                                    " must pass it too", group="validation", metavar='"COMMAND"')
    witness: str = setting("model", "a witness of the source, made once at Stage 0: the source with blocks under"
                           " #ifdef LASSI_WITNESS that print LASSI-WITNESS lines of checksums and work counts;"
                           " candidates must print the same lines. model (the coder writes it), off, or the path"
                           " of your own witness file", group="validation", metavar="model|off|FILE")
    keep_witness: bool = setting(False, "give the best back with its LASSI_WITNESS blocks (default: taken out)",
                                 group="validation")
    work_args: str | None = setting(None, "the program's arguments for the unmeasured runs that count its work (CUPTI,"
                                    " callgrind), where the main ones make them slow: callgrind runs tens of times"
                                    " slower than the program (default: the main arguments)", group="validation",
                                    metavar='"ARGS"')
    min_output_numbers: int = setting(1, "numbers the outputs must agree on, after timing lines are masked, for the"
                                      " output check to count as evidence (fewer: inconclusive)", group="validation",
                                      ge=0, metavar="N")
    accept_failing_source: bool = setting(False, "go on with a source whose own output says FAIL (or a like verdict)"
                                          " or changes between two runs on the same arguments", group="validation",
                                          commands=BOTH)
    extraordinary_saving: float = setting(0.8, "a saving beyond this fraction is accepted only when no validation"
                                          " layer was inconclusive, skipped or flagged", group="validation", gt=0,
                                          le=1, metavar="FRACTION")
    host_cpu_factor: float = setting(1.5, "flag a candidate whose host CPU time grows by more than this factor while"
                                     " its GPU energy falls, like a drop in GPU work (rejected under the strict"
                                     " workload setting)", group="validation", gt=1, metavar="X")
    # containment
    sandbox: str = setting("auto", "containment of builds and runs: bwrap (bubblewrap: no network, read-only"
                           " filesystem outside the scratch folder), none (resource limits only), or auto (bubblewrap"
                           " where it works)", group="containment", commands=BUILDING, choices=SANDBOX_MODES)
    max_processes: int | None = setting(None, "processes and threads a build or run may have at once (default: 4096,"
                                        " or 16 a core, for builds and the source; for candidates the larger of"
                                        " 2048, or 16 a core, and 4 times the source's peak in Stage 0)",
                                        group="containment",
                                        commands=BUILDING,
                                        ge=8, why="a compiler needs a few")
    max_memory_mb: int | None = setting(None, "memory in MiB a build or run may use (default: 3/4 of the machine's)",
                                        group="containment", commands=BUILDING, ge=16)
    max_file_mb: int = setting(4096, "largest file in MiB a build or run may write", group="containment",
                               commands=BUILDING, ge=1)
    max_output_mb: int = setting(8, "output in MiB a run may print on each of stdout and stderr; a candidate that"
                                 " prints more fails, since its output cannot be compared", group="containment",
                                 commands=BOTH, ge=1)
    scratch_mb: int = setting(1024, "MiB a build or run may add to its workspace, its temporary folders (/tmp, /var/tmp,"
                              " /run, /dev/shm: private memory folders of this size under bubblewrap) and its"
                              " memory files, all together", group="containment", commands=BUILDING, ge=16,
                              why="a compiler keeps its temporary files there")
    pass_env: list[str] = setting([], "an environment variable passed to builds and runs beside PATH, the locale,"
                                  " the CUDA and OpenMP variables (repeatable); others, keys and tokens above all,"
                                  " are not passed", group="containment", commands=BUILDING, metavar="NAME")
    follow_links: bool = setting(False, "copy a link in the program folder that points outside it as the file it"
                                 " names (otherwise such a folder is refused)", group="containment", commands=BUILDING)
    # paths
    runs_root: str = setting("lassi-runs", "folder of new run directories", group="paths", commands=BUILDING)
    cache_dir: str = setting(None, "folder of the Stage 2 summaries kept between runs (default"
                             " $XDG_CACHE_HOME/lassi-ee or ~/.cache/lassi-ee)", group="paths",
                             factory=default_cache_dir)
    stop_after_profile: bool = setting(False, "Stage 0 alone: build, run and measure the source, then stop",
                                       group="budgets", commands=())

    def model_for(self, role: str) -> str:
        return getattr(self, f"{role}_model") or self.model

    def models(self) -> dict[str, str]:
        return {role: self.model_for(role) for role in ROLES}

    def base_url_for(self, role: str) -> str | None:
        """The role's server: the one recorded when the run started, else the base_url setting."""
        return self.endpoints.get(role) or self.base_url

    def limits(self) -> Limits:
        """The resource caps of every build and run."""
        defaults = Limits()
        return Limits(max_tasks=self.max_processes or defaults.max_tasks,
                      memory_bytes=self.max_memory_mb * MiB if self.max_memory_mb else defaults.memory_bytes,
                      file_bytes=self.max_file_mb * MiB, scratch_bytes=self.scratch_mb * MiB,
                      output_bytes=self.max_output_mb * MiB)

    def decision_rule(self) -> Rule:
        """When a candidate is better: the measuring and the test of tools/energy/decision.py."""
        return Rule(min_pairs=self.min_repeats, max_pairs=self.max_repeats, target_ci=self.target_ci,
                    min_improvement=self.min_improvement, error_budget=self.error_budget, budget_s=self.repeat_budget_s)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Setting:
    """One declared setting, as the faces read it."""

    name: str  # the Context field
    kind: type  # int, float, str, bool, or list (of strings)
    optional: bool  # None is a value (the default is decided later)
    default: object
    description: str
    group: str
    commands: tuple[str, ...]
    face: str  # how the CLI (with dashes) and suites name it
    metavar: str | None
    choices: tuple[str, ...] | None
    bounds: dict  # ge/gt/le/lt
    why: str
    numbers_as_text: bool


@cache
def settings() -> tuple[Setting, ...]:
    """Every declared setting, in declaration order."""
    hints = typing.get_type_hints(Context)
    found = []
    for f in fields(Context):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = type(None) in typing.get_args(hint)
        kind = typing.get_origin(hint) or hint
        if optional:
            kind = typing.get_origin(args[0]) or args[0]
        default = f.default if f.default is not MISSING else f.default_factory()
        meta = f.metadata
        found.append(Setting(name=f.name, kind=kind, optional=optional, default=default,
                             description=meta["description"], group=meta["group"], commands=meta["commands"],
                             face=meta["face"] or f.name.replace("_", "-"), metavar=meta["metavar"],
                             choices=meta["choices"], bounds={k: meta[k] for k in ("ge", "gt", "le", "lt") if k in meta},
                             why=meta["why"], numbers_as_text=meta["numbers_as_text"]))
    return tuple(found)


def setting_named(name: str) -> Setting | None:
    return next((s for s in settings() if s.name == name), None)


def face_name(name: str) -> str:
    """How the CLI (after `--`) and suites name a setting or a run input: `repeat-budget`, `run-dir`."""
    declared = setting_named(name)
    return declared.face if declared else name.replace("_", "-")


def parse_repeats(text: str) -> tuple[int, int]:
    """`N` (exactly N measured runs) or `MIN-MAX` (adaptive): the min_repeats and max_repeats settings."""
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise LassiError(f"{{setting}} takes N or MIN-MAX (for example 5 or 3-10), not {text!r}",
                         setting="min_repeats") from None


def make_context(**values) -> Context:
    """A checked Context; scripted model, knowledge and cache paths are made absolute so a resume finds them."""
    known = {f.name for f in fields(Context)}
    if unknown := sorted(k for k in values if k not in known):
        raise LassiError(f"unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(known))}")
    ctx = Context(**{k: v for k, v in values.items() if v is not None})
    for role_field in ["model", *(f"{r}_model" for r in ROLES)]:
        name = getattr(ctx, role_field)
        if name and name.startswith("scripted:"):
            setattr(ctx, role_field, "scripted:" + str(Path(name[len("scripted:"):]).expanduser().resolve()))
    documents = [ctx.knowledge] if isinstance(ctx.knowledge, str) else ctx.knowledge  # one path is a list of one
    ctx.knowledge = [str(parse_spec(spec)) for spec in documents]
    ctx.cache_dir = str(Path(ctx.cache_dir).expanduser().resolve())
    if ctx.witness not in WITNESS_WORDS:
        given = Path(ctx.witness).expanduser().resolve()
        if not given.is_file():
            raise LassiError(f"{{setting}} {ctx.witness} is not a file (give model, off, or your witness's path)",
                             setting="witness")
        ctx.witness = str(given)
    if Path(ctx.cache_dir).exists() and not Path(ctx.cache_dir).is_dir():
        raise LassiError(f"{{setting}} {ctx.cache_dir} is not a folder", setting="cache_dir")
    for declared in settings():
        _check(declared, getattr(ctx, declared.name))
    _check_together(ctx)
    return ctx


_BOUND_WORDS = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}


def _bounds_words(bounds: dict) -> str:
    """`at least 1`, or `in (0, 1)` where there are two bounds."""
    low = next((k for k in ("ge", "gt") if k in bounds), None)
    high = next((k for k in ("le", "lt") if k in bounds), None)
    if low and high:
        return f"in {'[' if low == 'ge' else '('}{bounds[low]:g}, {bounds[high]:g}{']' if high == 'le' else ')'}"
    only = low or high
    return f"{_BOUND_WORDS[only]} {bounds[only]:g}"


def _check(declared: Setting, value) -> None:
    """The declared bounds and choices of one setting, and the shape of its text values."""
    if value is None and declared.optional:
        return
    why = f" ({declared.why})" if declared.why else ""
    if declared.choices and value not in declared.choices:
        raise LassiError(f"{{setting}} must be one of {', '.join(declared.choices)}, not {value!r}",
                         setting=declared.name)
    bounds = declared.bounds
    broken = [k for k, limit in bounds.items()
              if not {"ge": value >= limit, "gt": value > limit, "le": value <= limit, "lt": value < limit}[k]]
    if broken:
        raise LassiError(f"{{setting}} must be {_bounds_words(bounds)}{why}, not {value:g}", setting=declared.name)
    if declared.name in ("check_args", "work_args"):
        for line in [value] if isinstance(value, str) else value:
            try:
                shlex.split(line)
            except ValueError as exc:
                raise LassiError(f"{{setting}} {line!r} could not be split like a shell line: {exc}",
                                 setting=declared.name) from None
    if declared.name == "encoding" and value is not None:
        try:
            codecs.lookup(value)
        except LookupError:
            raise LassiError(f"{{setting}} {value!r} is not a text encoding Python knows (e.g. latin-1, cp1252)",
                             setting=declared.name) from None
    if declared.name == "arch" and value is not None and not re.fullmatch(r"(sm|compute)_\d+[af]?", value):
        raise LassiError(f"{{setting}} takes a CUDA architecture such as sm_90, not {value!r}", setting=declared.name)
    if declared.name == "output_masks":
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise LassiError(f"{{setting}} {pattern!r} is not a regular expression: {exc}",
                                 setting=declared.name) from None


def run_words(ctx: Context) -> list[str]:
    """The run's command line, split: the binary, then its arguments."""
    try:
        words = shlex.split(ctx.run_command or "")
    except ValueError as exc:
        raise LassiError(f"{{setting}} could not be split like a shell line: {exc}", setting="run_command") from None
    if not words:
        raise LassiError("{setting} is empty: give the program and its arguments", setting="run_command")
    return words


def _check_together(ctx: Context) -> None:
    """Bounds that tie two settings together."""
    if ctx.max_repeats < ctx.min_repeats:
        raise LassiError(f"{{setting}} MIN-MAX needs MAX >= MIN, not {ctx.min_repeats}-{ctx.max_repeats}",
                         setting="max_repeats")
    if ctx.temperature_ceiling < ctx.temperature_start:
        raise LassiError(f"{{setting}} ({ctx.temperature_ceiling:g}) must be at least the starting temperature"
                         f" ({ctx.temperature_start:g})", setting="temperature_ceiling")
    if ctx.run_command and not ctx.binary:
        ctx.binary = os.path.normpath(run_words(ctx)[0])
    if ctx.binary and (Path(ctx.binary).is_absolute() or ".." in Path(ctx.binary).parts):
        raise LassiError(f"{{setting}} names a path inside the program folder, not {ctx.binary}", setting="binary")
    if (ctx.build_command or ctx.configure_command) and not ctx.binary:
        raise LassiError("your own build needs {setting}: the program it produces", setting="binary")
    if ctx.configure_command and not ctx.build_command:
        raise LassiError("{setting} runs before your own build: give the build command too", setting="build_command")
