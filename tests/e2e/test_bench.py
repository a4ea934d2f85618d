"""`lassi-ee bench SUITE`: every program of a suite × its trials, resumable as a whole, ending in a
suite report with the best valid saving per program and energy-reduction@k."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import pytest

from app.bench import bench
from app.suite import load_suite
from tests.helpers import ROOT
from tests.helpers.programs import INVALID, VALID, answer, nvidia_gpu_present, sleeper
from tools.errors import LassiError
from tools.program import load_program
from tools.report.suite import TrialRecord, any_of_k, best_of_k, render_markdown, suite_figures

SUITES = ROOT / "examples" / "suites"
EXAMPLE_PROGRAMS = sorted(p.name for p in (ROOT / "examples" / "programs").iterdir())
EXAMPLE_PROGRAMS_IN_SUITE_ORDER = ["transfer-loop", "pageable-copy", "sync-storm", "heat2d", "plume3d"]


# The figures

def test_energy_reduction_at_k_is_the_best_saving_among_k_trials_averaged_over_every_choice_of_k():
    savings = [0.0, 0.31, 0.05, 0.12, 0.0]
    for k in range(1, len(savings) + 1):
        choices = list(combinations(savings, k))
        assert best_of_k(savings, k) == pytest.approx(sum(max(c) for c in choices) / len(choices))
    assert best_of_k(savings, 1) == pytest.approx(sum(savings) / len(savings))  # one trial: the mean saving
    assert best_of_k(savings, len(savings)) == pytest.approx(0.31)  # every trial: the best one


def test_share_at_k_is_the_chance_that_k_trials_include_one_with_a_valid_saving():
    found = [True, False, False, False]
    for k in range(1, 5):
        choices = list(combinations(found, k))
        assert any_of_k(4, 1, k) == pytest.approx(sum(any(c) for c in choices) / len(choices))
    assert any_of_k(4, 0, 4) == 0.0 and any_of_k(4, 1, 4) == 1.0


def measured(*durations: float) -> dict:
    from tools.energy.stats import summarize

    return {"objective": "duration_s", "readings": [{"duration_s": d} for d in durations],
            "stats": {"duration_s": summarize(list(durations)).to_dict()}}


def candidate(version: int, origin: str, outcome: str, durations=(1.0, 1.05, 0.95)) -> dict:
    return {"version": version, "key": f"{version:03d}", "origin": origin, "outcome": outcome,
            "measurement": measured(*durations)}


def finished_run(best: str, *others: dict) -> dict:
    cands = {"000": candidate(0, "source", "baseline"), **{c["key"]: c for c in others}}
    return {"stage": "done", "best": best, "candidates": cands, "stop_reason": "iteration budget (2) spent"}


def program_rows(report: str) -> list[str]:
    """The first cell of each row of the report's Programs table."""
    section = report.split("## Programs")[1].split("\n## ")[0]
    return [line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ")][1:]


def test_the_suite_figures_count_savings_failures_tokens_and_time_per_program():
    usage = [{"role": "coder", "response": "x", "tokens_in": 100, "tokens_out": 40, "latency_s": 2.0},
             {"role": "coder", "error": "transient"},  # a failed attempt: not an answer, not counted
             {"role": "summarizer/code", "response": "x", "tokens_in": 10, "tokens_out": 5, "cache": "hit"}]
    halves = candidate(2, "fix", "better", durations=(0.5, 0.52, 0.48))
    records = {
        "alpha": [
            TrialRecord("alpha", 1, "runs/alpha/trial-1", "finished", state=finished_run("002", halves),
                        llm_records=usage, seconds=30.0),
            TrialRecord("alpha", 2, "runs/alpha/trial-2", "finished", llm_records=usage, seconds=20.0,
                        state=finished_run("000", candidate(1, "zero-shot", "invalid"),
                                           candidate(2, "plan-step", "discarded"))),
            TrialRecord("alpha", 3, "runs/alpha/trial-3", "failed", error="the source does not build", seconds=1.0),
        ],
        "beta": [TrialRecord("beta", n, f"runs/beta/trial-{n}", "finished", state=finished_run("000"))
                 for n in (1, 2, 3)],
    }
    figures = suite_figures("demo.toml", "", records)
    alpha, beta = figures["programs"]
    assert alpha["best_saving"]["trial"] == 1 and alpha["best_saving"]["best"] == "v002"
    assert alpha["best_saving"]["saving"] == pytest.approx(0.5)
    low, high = alpha["best_saving"]["interval"]
    assert 0 < low < 0.5 < high  # a significant saving: the interval lies above zero
    assert (alpha["finished"], alpha["failed"], alpha["with_valid_saving"]) == (2, 1, 1)
    assert (alpha["candidates"], alpha["invalid"], alpha["discarded"]) == (3, 1, 1)
    assert (alpha["model_calls"], alpha["tokens_in"], alpha["tokens_out"]) == (2, 220, 90)
    assert alpha["seconds"] == 51.0 and alpha["model_seconds"] == 4.0
    assert alpha["reduction_at_k"] == pytest.approx([0.5 / 3, 0.5 * 2 / 3, 0.5])  # a failed trial saves nothing
    assert alpha["share_at_k"] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert beta["best_saving"] is None and beta["reduction_at_k"] == [0.0, 0.0, 0.0]
    assert [row["reduction"] for row in figures["at_k"]] == pytest.approx([0.5 / 6, 0.5 / 3, 0.25])
    assert [row["share"] for row in figures["at_k"]] == pytest.approx([1 / 6, 1 / 3, 0.5])
    assert figures["usage_by_role"]["summarizer/code"]["cache_hits"] == 2

    report = render_markdown(figures)
    assert program_rows(report) == ["alpha", "beta", "**all**"]
    assert "50.0% [" in report and "(trial 1, v002)" in report
    assert "failed: the source does not build" in report and "C(n, k)" in report
    table10 = report.split("## Source and best of each program's best trial")[1].split("## Energy reduction@k")[0]
    assert "| alpha (trial 1) | Runtime (s) | 1 ± 0.12 | 0.5 ± 0.05 | -50.0% [" in table10
    assert "| beta | no valid saving in any trial |" in table10


# The shipped suites

def test_the_shipped_suites_cover_the_examples_with_paths_relative_to_their_files():
    real = load_suite(SUITES / "examples.toml")
    assert sorted(p.name for p in real.programs) == EXAMPLE_PROGRAMS
    assert {p.trials for p in real.programs} == {3}
    assert {p.settings["model"] for p in real.programs} == {"openai:o3-mini"}
    assert all(p.settings["check_args"] for p in real.programs)

    scripted = load_suite(SUITES / "examples-scripted.toml")
    assert [p.name for p in scripted.programs] == EXAMPLE_PROGRAMS_IN_SUITE_ORDER
    assert sorted(EXAMPLE_PROGRAMS_IN_SUITE_ORDER) == EXAMPLE_PROGRAMS
    for p in scripted.programs:
        assert p.settings["model"] == f"scripted:{ROOT / 'examples' / 'sessions' / p.name / 'session.json'}"

    cpu = load_suite(SUITES / "heat2d-scripted.toml")
    assert [p.name for p in cpu.programs] == ["heat2d", "heat2d-small"]
    assert {load_program(p.folder, p.main).language for p in cpu.programs} == {"cpp"}  # no GPU needed
    assert {p.settings["model"] for p in cpu.programs} == {f"scripted:{ROOT / 'examples/sessions/heat2d/session.json'}"}


def test_a_yaml_suite_reads_like_its_toml_twin(tmp_path):
    (tmp_path / "suite.yaml").write_text(
        f"trials: 2\nmodel: scripted:{SUITES / '../sessions/heat2d/session.json'}\nrepeats: 3-5\n"
        f"program:\n  - folder: {ROOT / 'examples/programs/heat2d'}\n    args: [300, 40]\n    check-args: ['64 5']\n")
    suite = load_suite(tmp_path / "suite.yaml")
    [program] = suite.programs
    assert (program.name, program.args, program.trials) == ("heat2d", ["300", "40"], 2)
    assert (program.settings["min_repeats"], program.settings["max_repeats"]) == (3, 5)


# Mistakes in a suite file: one line each, before any work (the README's table has more)

@pytest.mark.parametrize("name, text, message", [
    ("args.toml", '[[program]]\nfolder = "prog"\nargs = "1 \'two"\n',
     "args.toml: program prog: args could not be split like a shell line: No closing quotation"),
    ("provider.toml", 'model = "acme:brain-1"\n[[program]]\nfolder = "prog"\n',
     "provider.toml: program prog: unknown model provider 'acme' in 'acme:brain-1': use one of openai,"),
    ("session.toml", 'model = "scripted:missing.json"\n[[program]]\nfolder = "prog"\n',
     "session.toml: program prog: scripted model file not found: "),
    ("repeats.toml", 'repeats = "many"\n[[program]]\nfolder = "prog"\n',
     "repeats.toml: repeats takes N or MIN-MAX (for example 5 or 3-10), not 'many'"),
    ("name.toml", '[[program]]\nfolder = "prog"\nname = "a/b"\n',
     "name.toml: program a/b: name may hold letters, digits, '.', '_' and '-' only"),
    ("main.toml", '[[program]]\nfolder = "prog"\nmain = "other.cpp"\n',
     "main.toml: program prog: main source other.cpp not found in "),
    ("gpu.toml", 'gpu = true\n[[program]]\nfolder = "prog"\n',
     "gpu.toml: gpu takes an NVML index or a GPU UUID, not True"),
    ("knowledge.toml", 'knowledge = ["notes.doc"]\n[[program]]\nfolder = "prog"\n',
     "knowledge.toml: program prog: knowledge notes.doc: unsupported file type '.doc'"),
    ("inner.toml", '[[program]]\nfolder = "prog"\nmax_corrections = 1\n',
     "inner.toml: program prog: unknown key 'max_corrections' (did you mean 'max-corrections'?)"),
    ("list.toml", 'program = "prog"\n', "list.toml: program must be a list of tables"),
    ("broken.yaml", "trials: [1\n", "broken.yaml: not valid YAML: expected ',' or ']'"),
    ("list.yaml", "- a\n- b\n", "list.yaml: a suite is a table of keys (trials, model, ..., program), not list"),
])
def test_a_mistake_in_a_suite_gets_one_line_naming_file_program_and_key(name, text, message, program, tmp_path,
                                                                       monkeypatch, capsys):
    from app.cli import main

    shutil.move(program, tmp_path / "prog")
    (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["bench", name]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lassi-ee: error: {message}"), lines
    assert not (tmp_path / "lassi-runs").exists()


# Criterion 3: the shipped CPU suite, killed midway and run again

def lassi(*args: str, cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=cwd, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, f"the bench ended before {path} appeared"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def stamps(folder: Path) -> dict[str, int]:
    """Every file's modification time, the checkpoint database aside (opening it to read is allowed)."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith("checkpoints.sqlite")}


def candidates_of(run_dir: Path) -> dict:
    from app.api import open_run

    with open_run(run_dir) as (graph, config):
        return graph.get_state(config).values["candidates"]


def sessions(out: Path, program: str) -> dict[str, int]:
    ledger = json.loads((out / program / "bench.json").read_text())
    return {n: trial["sessions"] for n, trial in ledger["trials"].items()}


@pytest.mark.slow
def test_the_shipped_cpu_suite_completes_and_a_killed_bench_resumes_without_redoing_finished_trials(tmp_path):
    out = tmp_path / "out"
    command = ("bench", str(SUITES / "heat2d-scripted.toml"), "--out", str(out))
    first = lassi(*command, cwd=tmp_path, log=tmp_path / "first.log")
    trial_1, trial_2 = out / "heat2d" / "trial-1", out / "heat2d" / "trial-2"
    wait_for(trial_1 / "report.md", first)  # the first trial has finished...
    source_of_2 = trial_2 / "candidates" / "v000-source" / "measurement.json"
    wait_for(source_of_2, first)  # ...and the second has measured its source
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not (trial_2 / "report.md").exists() and not list(out.glob("heat2d-small/trial-*/run.json"))
    finished_files, finished_candidates = stamps(trial_1), candidates_of(trial_1)
    measured_before_kill = source_of_2.stat().st_mtime_ns

    second = subprocess.run([sys.executable, "-m", "app.cli", *command], cwd=tmp_path, capture_output=True,
                            text=True, timeout=900)
    assert second.returncode == 0, second.stderr
    said = second.stdout
    assert "heat2d trial 1/2: finished earlier; skipped" in said
    assert "heat2d trial 2/2: resuming" in said and "heat2d-small trial 1/2: starting" in said
    assert "2 trials started, 1 resumed, 1 finished earlier" in said
    assert stamps(trial_1) == finished_files and candidates_of(trial_1) == finished_candidates  # not redone
    assert source_of_2.stat().st_mtime_ns == measured_before_kill  # the resumed trial kept its measured source
    assert sessions(out, "heat2d") == {"1": 1, "2": 2} and sessions(out, "heat2d-small") == {"1": 1, "2": 1}

    figures = json.loads((out / "suite-report.json").read_text())
    assert [p["program"] for p in figures["programs"]] == ["heat2d", "heat2d-small"]
    assert all(p["finished"] == p["trials"] == 2 for p in figures["programs"])
    assert [row["k"] for row in figures["at_k"]] == [1, 2]
    report = (out / "suite-report.md").read_text()
    assert program_rows(report) == ["heat2d", "heat2d-small", "**all**"]
    assert "Suite report:" in said and "energy-reduction@k: k=1" in said

    third = subprocess.run([sys.executable, "-m", "app.cli", *command], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert third.returncode == 0 and "0 trials started, 0 resumed, 4 finished earlier" in third.stdout
    assert json.loads((out / "suite-report.json").read_text()) == figures


# Failures, savings and changes, on the quick test program

@pytest.fixture
def quick_suite(program, session, tmp_path):
    """A suite of the sleeper program (a 200 ms source, a 40 ms rewrite) and a copy whose source does not build."""
    model = session({"coder": [answer(sleeper(40)), answer(sleeper(320))], "judge": [VALID, INVALID],
                     "planner": ["plan"], "reporter": ["comparison"]})
    broken = tmp_path / "broken"
    shutil.copytree(program, broken)
    (broken / "main.cpp").write_text(sleeper(fault="build"))
    path = tmp_path / "quick.toml"

    def write(trials: int = 2, args: str = "100") -> Path:
        path.write_text(f'model = "{model}"\ntrials = {trials}\nmax-iterations = 1\nrepeats = 3\n'
                        f'\n[[program]]\nfolder = "sleeper"\nargs = "{args}"\n\n[[program]]\nfolder = "broken"\n')
        return path

    return write


def test_a_trial_that_fails_is_counted_and_the_suite_goes_on(quick_suite, tmp_path):
    lines: list[str] = []
    result = bench(quick_suite(), tmp_path / "out", say=lines.append)
    sleeper_row, broken_row = result.figures["programs"]
    assert (sleeper_row["finished"], sleeper_row["with_valid_saving"]) == (2, 2)
    assert sleeper_row["best_saving"]["saving"] > 0.5 and sleeper_row["best_saving"]["interval"][0] > 0
    assert (broken_row["failed"], broken_row["best_saving"]) == (2, None)
    assert "does not build" in broken_row["per_trial"][0]["error"]
    assert any(line.startswith("== broken trial 1/2: failed: ") for line in lines)
    assert result.figures["at_k"][0]["share"] == 0.5  # one program of two has a valid saving
    assert (result.started, result.resumed, result.skipped) == (4, 0, 0)
    assert (sleeper_row["invalid"], sleeper_row["candidates"]) == (2, 4)  # the judge rejected each plan step
    assert "| broken | — | 2 (0, 2) | none | 0 of 2 |" in result.report_path.read_text()

    more = bench(quick_suite(trials=3), tmp_path / "out")  # one more trial each; failed ones are tried again
    assert (more.started, more.resumed, more.skipped) == (2, 2, 2)
    assert [p["trials"] for p in more.figures["programs"]] == [3, 3]


def test_a_suite_changed_after_its_trials_started_is_refused(quick_suite, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = bench(quick_suite(trials=1))  # by default into lassi-runs/bench-<suite name>
    assert first.out == tmp_path / "lassi-runs" / "bench-quick"
    assert (first.out / "sleeper" / "trial-1" / "report.md").is_file()
    with pytest.raises(LassiError, match=r"holds trials started with other settings \(args: \['100'\] then,"
                                         r" \['7'\] now\); restore them in quick.toml or choose another --out"):
        bench(quick_suite(trials=1, args="7"))


def test_a_second_bench_on_a_folder_in_use_is_refused_at_once(quick_suite, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with (out / ".bench.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(LassiError, match="in use by another lassi-ee bench"):
            bench(quick_suite(), out)
    assert not (out / "sleeper").exists()


@pytest.mark.skipif(nvidia_gpu_present(), reason="needs a machine without an NVIDIA GPU")
def test_a_suite_that_cannot_run_here_stops_before_its_first_trial(tmp_path):
    done = subprocess.run([sys.executable, "-m", "app.cli", "bench", str(SUITES / "examples-scripted.toml"),
                           "--out", str(tmp_path / "out")], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("lassi-ee: error: examples-scripted.toml: program transfer-loop: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.gpu
def test_every_example_of_the_scripted_suite_runs_through_the_bench_on_the_gpu(tmp_path):
    """The shipped scripted suite's programs, arguments and sessions, one short trial each."""
    shipped = load_suite(SUITES / "examples-scripted.toml")
    tables = [f'[[program]]\nname = "{p.name}"\nfolder = "{p.folder}"\nargs = {json.dumps(p.args)}\n'
              f'model = "{p.settings["model"]}"\ncheck-args = {json.dumps(p.settings["check_args"])}\n'
              for p in shipped.programs]
    suite = tmp_path / "short.toml"
    suite.write_text("trials = 1\nmax-iterations = 1\nrepeats = 3\nconfirm-pairs = 3\n\n" + "\n".join(tables))
    result = bench(suite, tmp_path / "out", say=print)
    print(result.table)
    assert [p["program"] for p in result.figures["programs"]] == EXAMPLE_PROGRAMS_IN_SUITE_ORDER
    assert all(p["finished"] == 1 for p in result.figures["programs"]), result.table
    assert {p["objective"] for p in result.figures["programs"][:3]} == {"net_energy_j"}
