"""A benchmark suite file (TOML, or YAML): programs, their arguments, trials and settings, checked at load.

    trials = 3                          # every key outside [[program]] applies to every program
    model = "openai:o3-mini"
    repeats = "3-10"

    [[program]]
    folder = "../programs/heat2d"       # paths are relative to the suite file
    args = "1500 80"
    check-args = ["64 5"]
    trials = 1                          # a program's own keys override the suite's

    [slurm]                             # for `lassi-ee bench --executor slurm`: each trial one job
    partition = "gpu"
    account = "proj42"
    time-limit = 120                    # minutes per job; a trial past it is requeued and resumes
    gpus-per-trial = 1
    cpus-per-trial = 8
    sbatch = ["--qos=normal"]           # any further sbatch options

Setting keys are the `lassi-ee optimize` options without their dashes. Every wrong key or value is
reported as one line naming the file, the program and the key, before any run starts: the file's own
shape here, and what `optimize` checks (settings, program, tools, models) by `lassi-ee bench`
through `app.api.preflight`.
"""

from __future__ import annotations

import difflib
import re
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from graph.context import Context, Setting, face_name, parse_repeats, settings
from knowledge.documents import parse_spec
from tools.errors import LassiError

SUFFIXES = (".toml", ".yaml", ".yml")
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class _Wrong(Exception):
    """A value that does not fit its key; the message says what was expected."""


def _whole(value, at_least: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Wrong(f"must be a whole number, not {value!r}")
    if at_least is not None and value < at_least:
        raise _Wrong(f"must be at least {at_least}, not {value}")
    return value


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Wrong(f"must be a number, not {value!r}")
    return float(value)


def _text(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Wrong(f"must be a non-empty string, not {value!r}")
    return value


def _texts(value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Wrong(f"must be a list of strings, not {value!r}")
    return value


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise _Wrong(f"must be true or false, not {value!r}")
    return value


def _repeats(value) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if not isinstance(value, str):
        raise _Wrong(f"takes N or \"MIN-MAX\" (for example 5 or \"3-10\"), not {value!r}")
    return parse_repeats(value)


def _gpu(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _Wrong(f"takes an NVML index or a GPU UUID, not {value!r}")
    return str(value)


def _args(value) -> list[str]:
    """A shell-like line, one number, or a list of arguments (numbers allowed)."""
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise _Wrong(f"could not be split like a shell line: {exc}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    raise _Wrong(f"must be a string such as \"1500 80\" or a list such as [\"1500\", \"80\"], not {value!r}")


def _sbatch_option(value: str) -> str:
    if not value.startswith("--"):
        raise _Wrong(f"takes sbatch's long options such as \"--qos=normal\", not {value!r}")
    return value


def _reader(declared: Setting) -> Callable:
    """How a suite's value of a declared setting is read: by the setting's type."""
    if declared.face == "repeats":
        return _repeats
    if declared.kind is bool:
        return _flag
    if declared.kind is int:
        return _whole
    if declared.kind is float:
        return _number
    if declared.kind is list:
        return _texts
    return _gpu if declared.numbers_as_text else _text


# Where a suite's trials run is the bench's to decide (its --out folder), not the suite's.
BENCH_DECIDES = ("runs_root",)
# Suite key -> (the Context field it sets, its reader): `lassi-ee optimize`'s options without their dashes.
# `repeats` sets min_repeats and max_repeats; paths are resolved against the suite's folder afterwards.
SETTINGS: dict[str, tuple[str, Callable]] = {
    declared.face: (declared.name, _reader(declared)) for declared in settings()
    if "optimize" in declared.commands and declared.name not in BENCH_DECIDES and declared.name != "max_repeats"}
READERS = {key: reader for key, (_, reader) in SETTINGS.items()}
SUITE_ONLY = {"about": _text}
PROGRAM_ONLY = {"folder": _text, "name": _text, "args": _args, "main": _text}
BOTH = {"trials": lambda v: _whole(v, at_least=1)}
SLURM = {"partition": _text, "account": _text, "time-limit": lambda v: _whole(v, at_least=1),
         "gpus-per-trial": lambda v: _whole(v, at_least=0), "cpus-per-trial": lambda v: _whole(v, at_least=1),
         "sbatch": lambda v: [_sbatch_option(o) for o in _texts(v)]}


@dataclass(frozen=True)
class SuiteProgram:
    """One program of a suite, its settings resolved: what `optimize` is called with for each trial."""

    name: str
    folder: Path
    args: list[str]
    main: str | None
    trials: int
    settings: dict = field(default_factory=dict)  # keywords of app.api.optimize (Context fields)

    def spec(self) -> dict:
        """What its trials were started with; a later run of the suite must ask for the same."""
        return {"folder": str(self.folder), "main": self.main, "args": self.args, "settings": self.settings}


@dataclass(frozen=True)
class Suite:
    path: Path
    about: str
    programs: list[SuiteProgram]
    slurm: dict = field(default_factory=dict)  # the [slurm] table, its keys checked

    @property
    def label(self) -> str:
        return self.path.name


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite's shape: keys, types, program folders and names, documents named."""
    given = Path(path).expanduser()
    if not given.is_file():
        raise LassiError(f"suite not found: {path} (give a .toml, .yaml or .yml file)")
    if given.suffix.lower() not in SUFFIXES:
        raise LassiError(f"{given.name}: a suite is a TOML (.toml) or YAML (.yaml, .yml) file, not {given.suffix or 'a file without a suffix'}")
    data = _read(given)
    where = given.name
    top = _checked(data, {**READERS, **SUITE_ONLY, **BOTH}, where, extra={"program", "slurm"})
    if not isinstance(data.get("slurm", {}), dict):
        raise LassiError(f"{where}: slurm must be a table ([slurm] in TOML, a mapping in YAML)")
    slurm = _checked(data.get("slurm", {}), SLURM, f"{where}: [slurm]")
    entries = data.get("program")
    if entries is None or entries == []:
        raise LassiError(f"{where}: no programs: add at least one [[program]] table with folder = \"...\"")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise LassiError(f"{where}: program must be a list of tables ([[program]] in TOML, a list of mappings in YAML)")
    base = given.resolve().parent
    programs, seen = [], set()
    for number, entry in enumerate(entries, 1):
        label = f"{where}: program {_label(entry, number)}"
        own = _checked(entry, {**READERS, **PROGRAM_ONLY, **BOTH}, label)
        if "folder" not in own:
            raise LassiError(f"{where}: program {number}: folder is missing: name the program's folder"
                             " (relative to the suite file)")
        program = _program({**top, **own}, base, where)
        if program.name in seen:
            raise LassiError(f"{where}: two programs are named {program.name}: give one of them its own"
                             " name = \"...\"")
        seen.add(program.name)
        programs.append(program)
    return Suite(given.resolve(), top.get("about", ""), programs, slurm)


def _label(entry: dict, number: int) -> str:
    """How an error names a program before it is checked: its name, its folder's name, or its position."""
    name, folder = entry.get("name"), entry.get("folder")
    if isinstance(name, str) and name:
        return name
    return Path(folder).name if isinstance(folder, str) and folder else str(number)


def _read(path: Path) -> dict:
    text = path.read_text()
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise LassiError(f"{path.name}: not valid TOML: {exc}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            place = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise LassiError(f"{path.name}: not valid YAML: {getattr(exc, 'problem', None) or exc}{place}") from None
    if not isinstance(data, dict):
        raise LassiError(f"{path.name}: a suite is a table of keys (trials, model, ..., program), not {type(data).__name__}")
    return data


def _checked(table: dict, readers: dict[str, Callable], where: str, extra: set[str] = frozenset()) -> dict:
    """The table's values read by their keys' readers; an unknown key or a wrong value raises, naming both."""
    values = {}
    for key, value in table.items():
        if key in extra:
            continue
        if key not in readers:
            known = sorted([*readers, *extra])
            close = difflib.get_close_matches(str(key).replace("_", "-"), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            raise LassiError(f"{where}: unknown key {key!r} ({hint})")
        try:
            values[key] = readers[key](value)
        except _Wrong as exc:
            raise LassiError(f"{where}: {key} {exc}") from None
        except LassiError as exc:
            raise LassiError(f"{where}: {exc.spelled(spell)}") from None
    return values


def _program(values: dict, base: Path, where: str) -> SuiteProgram:
    folder = (base / Path(values["folder"]).expanduser()).resolve()
    name = values.get("name") or folder.name
    label = f"{where}: program {name}"
    if not NAME.match(name):
        raise LassiError(f"{label}: name may hold letters, digits, '.', '_' and '-' only (it names the"
                         " program's folder among the results)")
    if not folder.exists():
        raise LassiError(f"{label}: folder {values['folder']} not found (paths are relative to the suite"
                         f" file's folder, {base})")
    try:
        chosen = _settings(values, base)
    except LassiError as exc:
        raise LassiError(f"{label}: {exc.spelled(spell)}") from None
    chosen.setdefault("model", Context().model)  # pinned: $LASSI_MODEL may differ when the suite is resumed
    return SuiteProgram(name=name, folder=folder, args=values.get("args", []), main=values.get("main"),
                        trials=values.get("trials", 1), settings=chosen)


def _settings(values: dict, base: Path) -> dict:
    """The Context fields a program's suite keys set."""
    chosen: dict = {}
    for key, value in values.items():
        if key == "repeats":
            chosen["min_repeats"], chosen["max_repeats"] = value
        elif key in SETTINGS:
            chosen[SETTINGS[key][0]] = _relative(SETTINGS[key][0], value, base)
    return chosen


def _relative(target: str, value, base: Path):
    """Scripted model files, documents and the cache folder are named relative to the suite file."""
    if target.endswith("model") and value.startswith("scripted:"):
        return "scripted:" + str((base / Path(value.removeprefix("scripted:")).expanduser()).resolve())
    if target == "knowledge":
        return [str(parse_spec(spec, base)) for spec in value]
    if target == "cache_dir":
        return str((base / Path(value).expanduser()).resolve())
    return value


def spell(name: str) -> str:
    """How a suite names a setting: its key, the CLI option without its dashes."""
    return face_name(name)
