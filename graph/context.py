"""Run settings: LangGraph's context (not checkpointed), saved in run.json so a resume can restore them.

In Studio these fields are the run's configuration form.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from knowledge import parse_spec
from tools.cache import default_cache_dir
from tools.errors import LassiError
from tools.sandbox import MODES as SANDBOX_MODES
from tools.sandbox import Limits, MiB

ROLES = ("coder", "judge", "summarizer", "planner", "reporter")
DEFAULT_MODEL = "openai:o3-mini"


@dataclass(kw_only=True)
class Context:
    model: str = field(default_factory=lambda: os.environ.get("LASSI_MODEL") or DEFAULT_MODEL)  # for every role
    coder_model: str | None = None  # per-role overrides (the ensemble)
    judge_model: str | None = None
    summarizer_model: str | None = None
    planner_model: str | None = None
    reporter_model: str | None = None
    base_url: str | None = None  # an OpenAI-compatible server
    gpu: str | None = None  # NVML index or UUID of the GPU to run and measure on
    max_iterations: int = 10  # Stage 3 candidates (fixes excluded)
    max_corrections: int = 5  # fixes per candidate before it is discarded
    temperature_start: float = 0.2
    temperature_step: float = 0.2
    temperature_ceiling: float = 0.8  # the run stops once the temperature passes this
    min_repeats: int = 3  # measured runs per candidate, at least...
    max_repeats: int = 10  # ...and at most
    target_ci: float = 0.02  # stop repeating once the 95% interval is within this fraction of the mean
    repeat_budget_s: float = 300.0  # or once one candidate's repeats have taken this long
    min_improvement: float = 0.02  # a better candidate saves at least this fraction, and significantly
    time_limit: float | None = None  # seconds; candidates default to 3x the source's runtime + 10 s
    compile_flags: str | None = None  # replaces the default flags (the GPU's -arch is still added)
    rtol: float = 1e-6  # output numbers: relative tolerance
    atol: float = 1e-12  # output numbers: absolute tolerance
    output_masks: list[str] = field(default_factory=list)  # regexes of output lines to ignore, beside the defaults
    check_args: list[str] = field(default_factory=list)  # extra argument sets source and candidate must agree on
    strict_workload: bool = False  # reject candidates that launch fewer kernels or threads than the source
    runs_root: str = "lassi-runs"  # where run directories are created when none is given
    knowledge: list[str] = field(default_factory=list)  # user documents: PATH or PATH#pages=…/sections=…/lines=…
    cache_dir: str = field(default_factory=default_cache_dir)  # Stage-2 summaries kept between runs
    max_llm_retries: int = 5
    llm_backoff_s: float = 2.0
    sandbox: str = "auto"  # containment of builds and runs: auto (bubblewrap where it works), bwrap, none
    max_processes: int | None = None  # processes and threads a build or run may have at once (default: 256 or more)
    max_memory_mb: int | None = None  # resident memory of a build or run (default: 3/4 of the machine's)
    max_file_mb: int = 4096  # the largest file a build or run may write
    stop_after_profile: bool = False  # Stage 0 only (lassi-ee profile)

    def model_for(self, role: str) -> str:
        return getattr(self, f"{role}_model") or self.model

    def models(self) -> dict[str, str]:
        return {role: self.model_for(role) for role in ROLES}

    def limits(self) -> Limits:
        """The resource caps of every build and run."""
        defaults = Limits()
        return Limits(max_tasks=self.max_processes or defaults.max_tasks,
                      memory_bytes=self.max_memory_mb * MiB if self.max_memory_mb else defaults.memory_bytes,
                      file_bytes=self.max_file_mb * MiB)

    def to_dict(self) -> dict:
        return asdict(self)


def parse_repeats(text: str) -> tuple[int, int]:
    """`N` (exactly N measured runs) or `MIN-MAX` (adaptive): the min_repeats and max_repeats settings."""
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise LassiError(f"--repeats takes N or MIN-MAX (for example 5 or 3-10), not {text!r}") from None


def make_context(**settings) -> Context:
    """A checked Context; scripted model, knowledge and cache paths are made absolute so a resume finds them."""
    known = {f.name for f in fields(Context)}
    if unknown := sorted(k for k in settings if k not in known):
        raise LassiError(f"unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(known))}")
    ctx = Context(**{k: v for k, v in settings.items() if v is not None})
    for role_field in ["model", *(f"{r}_model" for r in ROLES)]:
        name = getattr(ctx, role_field)
        if name and name.startswith("scripted:"):
            setattr(ctx, role_field, "scripted:" + str(Path(name[len("scripted:"):]).expanduser().resolve()))
    documents = [ctx.knowledge] if isinstance(ctx.knowledge, str) else ctx.knowledge  # one path is a list of one
    ctx.knowledge = [str(parse_spec(spec)) for spec in documents]
    ctx.cache_dir = str(Path(ctx.cache_dir).expanduser().resolve())
    if Path(ctx.cache_dir).exists() and not Path(ctx.cache_dir).is_dir():
        raise LassiError(f"--cache-dir {ctx.cache_dir} is not a folder")
    _check_ranges(ctx)
    return ctx


def _check_ranges(ctx: Context) -> None:
    checks = [
        (ctx.max_iterations >= 1, f"--max-iterations must be at least 1, not {ctx.max_iterations}"),
        (ctx.max_corrections >= 0, f"--max-corrections must be 0 or more, not {ctx.max_corrections}"),
        (ctx.min_repeats >= 2, f"--repeats must be at least 2 (one run gives no interval), not {ctx.min_repeats}"),
        (ctx.max_repeats >= ctx.min_repeats, f"--repeats MIN-MAX needs MAX >= MIN, not {ctx.min_repeats}-{ctx.max_repeats}"),
        (0 < ctx.target_ci < 1, f"--target-ci is a fraction in (0, 1), not {ctx.target_ci}"),
        (ctx.repeat_budget_s > 0, f"--repeat-budget must be positive seconds, not {ctx.repeat_budget_s}"),
        (0 <= ctx.min_improvement < 1, f"--min-improvement is a fraction in [0, 1), not {ctx.min_improvement}"),
        (ctx.time_limit is None or ctx.time_limit > 0, f"--time-limit must be positive seconds, not {ctx.time_limit}"),
        (ctx.temperature_step > 0, "the temperature step must be positive"),
        (ctx.max_llm_retries >= 0, f"--max-llm-retries must be 0 or more, not {ctx.max_llm_retries}"),
        (ctx.rtol >= 0 and ctx.atol >= 0, "output tolerances must be 0 or more"),
        (ctx.max_processes is None or ctx.max_processes >= 8,
         f"--max-processes must be at least 8 (a compiler needs a few), not {ctx.max_processes}"),
        (ctx.max_memory_mb is None or ctx.max_memory_mb >= 16, f"--max-memory-mb must be at least 16, not {ctx.max_memory_mb}"),
        (ctx.max_file_mb >= 1, f"--max-file-mb must be at least 1, not {ctx.max_file_mb}"),
        (ctx.sandbox in SANDBOX_MODES, f"--sandbox must be one of {', '.join(SANDBOX_MODES)}, not {ctx.sandbox!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise LassiError(message)
    for line in ctx.check_args:
        try:
            shlex.split(line)
        except ValueError as exc:
            raise LassiError(f"--check-args {line!r} could not be split like a shell line: {exc}") from None
    for pattern in ctx.output_masks:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise LassiError(f"--mask {pattern!r} is not a regular expression: {exc}") from None
