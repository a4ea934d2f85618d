"""A run directory has one writer, lives wherever it is put, and a damaged file is recovered or one line.

The runs here are short (the test program with small waits, three repeats); damage is done to copies
of one finished run, so each test starts from the same run directory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.api import open_run, optimize, report, resume
from tests.helpers import FIXTURES
from tests.helpers.programs import SUMMARIES, VALID, answer, sleeper
from tools.errors import LassiError
from tools.rundir import RunDir


def write_session(path: Path, coder: list[str]) -> str:
    path.write_text(json.dumps({"about": "integrity", "responses": {
        **SUMMARIES, "coder": coder, "judge": [VALID] * 2, "planner": ["plan"], "reporter": ["comparison"]}}))
    return f"scripted:{path}"


def start(folder: Path, **options):
    program = folder / "sleeper"
    shutil.copytree(FIXTURES / "sleeper", program)
    model = write_session(folder / "session.json", [answer(sleeper(40)), answer(sleeper(320))])
    return optimize(program, ["100"], model=model, run_dir=folder / "run", max_iterations=1, max_repeats=3,
                    llm_backoff_s=0.0, cache_dir=str(folder / "cache"), runs_root=str(folder / "runs"), **options)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "link"
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    result = start(tmp_path_factory.mktemp("finished"))
    assert result.finished
    return result.run_dir


@pytest.fixture
def damaged(finished, tmp_path) -> Path:
    """A copy of the finished run to damage."""
    return Path(shutil.copytree(finished, tmp_path / "copy", symlinks=True))


def test_a_second_writer_is_refused_with_one_line_naming_the_first(damaged):
    holder = subprocess.Popen([sys.executable, "-c", f"from tools.rundir import RunDir\nwith RunDir({str(damaged)!r}).writing():\n"
                               "    print('held', flush=True)\n    input()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(LassiError) as caught:
            resume(damaged)
        assert f"is in use by process {holder.pid}" in str(caught.value) and "\n" not in str(caught.value)
        with pytest.raises(LassiError, match=f"process {holder.pid}"):
            report(damaged)
    finally:
        holder.communicate("\n")


def test_a_lock_file_left_by_a_killed_writer_does_not_block_the_next(damaged):
    (damaged / ".writer.lock").write_text("process 999999 (lassi-ee optimize, killed)\n")  # no process holds it
    assert resume(damaged).finished


def test_a_copied_run_resumes_in_place_and_the_original_stays_byte_identical(tmp_path):
    paused = start(tmp_path / "first", interrupt_before=["judge"]).run_dir
    copy = Path(shutil.copytree(paused, tmp_path / "copy", symlinks=True))
    before = digest(paused)
    result = resume(copy)
    assert result.finished and result.run_dir == copy and result.state["run_dir"] == str(copy)
    assert digest(paused) == before and not (paused / "report.md").exists()
    assert (copy / "report.md").is_file() and (copy / "best" / "main.cpp").is_file()
    assert len((copy / "llm.jsonl").read_text().splitlines()) > len((paused / "llm.jsonl").read_text().splitlines())


def test_a_moved_run_resumes_where_it_lies(tmp_path):
    paused = start(tmp_path / "first", interrupt_before=["judge"]).run_dir
    moved = paused.rename(tmp_path / "elsewhere")
    result = resume(moved)
    assert result.finished and result.report_path == moved / "report.md" and not paused.exists()
    assert all(not Path(c["dir"]).is_absolute() for c in result.candidates)  # paths in state are the run's own


def test_a_replay_with_a_changed_answer_measures_the_new_code(tmp_path):
    first = start(tmp_path / "first")
    run = first.run_dir
    assert first.candidates[1]["validation"]["valid"]
    with open_run(run) as (graph, config):
        before_coder = next(s for s in graph.get_state_history(config)
                            if s.next == ("coder",) and s.values.get("next_version") == 1)
    write_session(tmp_path / "first" / "session.json", [answer(sleeper(40, fault="output")), answer(sleeper(320))])
    replayed = resume(run, checkpoint_id=before_coder.config["configurable"]["checkpoint_id"])
    changed = replayed.candidates[1]
    assert "+ 1" in (run / changed["source"]).read_text()
    assert not changed["validation"]["valid"] and "sum = 5051" in (run / changed["run"]["stdout_path"]).read_text()


def test_lost_checkpoints_beside_candidates_are_one_line_not_a_restart_from_stage_0(damaged):
    for path in damaged.glob("checkpoints.sqlite*"):
        path.unlink()
    sqlite3.connect(damaged / "checkpoints.sqlite").close()
    folders = sorted(p.name for p in (damaged / "candidates").iterdir())
    with pytest.raises(LassiError, match="holds no checkpoint although .* holds candidates .*-wal left behind"):
        resume(damaged)
    assert sorted(p.name for p in (damaged / "candidates").iterdir()) == folders


def test_a_damaged_checkpoint_file_is_one_line_for_resume_and_report(damaged):
    (damaged / "checkpoints.sqlite").write_bytes(b"not a database" * 100)
    for path in damaged.glob("checkpoints.sqlite-*"):
        path.unlink()
    for attempt in (resume, report):
        with pytest.raises(LassiError, match="checkpoints.sqlite is damaged"):
            attempt(damaged)


def test_a_torn_line_of_the_model_log_is_named_in_the_report_not_dropped_silently(damaged):
    with (damaged / "llm.jsonl").open("a") as log:
        log.write('{"role": "coder", "prompt": "half-writ')
    text = report(damaged).read_text()
    assert "1 damaged line of llm.jsonl" in text


def test_a_deleted_candidate_folder_is_one_line_naming_it(damaged):
    with open_run(damaged) as (graph, config):
        best = graph.get_state(config).values["best"]
    folder = next(p for p in (damaged / "candidates").iterdir() if p.name.startswith(f"v{best}"))
    shutil.rmtree(folder)
    with pytest.raises(LassiError, match=f"{folder.name}.* is missing"):
        report(damaged)


def test_the_lock_is_the_kernels_so_a_run_in_this_process_cannot_take_it_twice(damaged):
    with RunDir(damaged).writing(), pytest.raises(LassiError, match="is in use by process"):
        resume(damaged)


# Killed as the source's second repeat is kept, while Stage 0 is still measuring.
DIE_AFTER_TWO_REPEATS = """
import os, signal, sys
import nodes.executor as executor
from app.cli import main

append_jsonl, kept = executor.append_jsonl, []

def keep_then_die(path, record):
    append_jsonl(path, record)
    kept.append(record)
    if len(kept) == 2:
        os.kill(os.getpid(), signal.SIGKILL)

executor.append_jsonl = keep_then_die
sys.exit(main(sys.argv[1:]))
"""


def test_a_kill_during_the_source_repeats_keeps_the_finished_ones(tmp_path):
    program = tmp_path / "sleeper"
    shutil.copytree(FIXTURES / "sleeper", program)
    run_dir = tmp_path / "run"
    first = subprocess.run([sys.executable, "-c", DIE_AFTER_TWO_REPEATS, "profile", str(program), "--args", "100",
                            "--repeats", "3-4", "--run-dir", str(run_dir)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == -9, first.stderr
    kept = [json.loads(line) for line in (run_dir / "candidates" / "v000-source" / "repeats.jsonl").read_text().splitlines()]
    assert len(kept) == 2
    result = resume(run_dir)
    readings = result.source["measurement"]["readings"]
    assert len(readings) >= 3 and [r["duration_s"] for r in readings[:2]] == [r["duration_s"] for r in kept]


# Killed as a candidate's second pair (candidate, source) is kept, while it is still being screened.
DIE_AFTER_TWO_PAIRS = """
import os, signal, sys
import nodes.executor as executor
from app.cli import main

append_jsonl, kept = executor.append_jsonl, []

def keep_then_die(path, record):
    append_jsonl(path, record)
    if path.name == executor.PAIRS_FILE:
        kept.append(record)
        if len(kept) == 2:
            os.kill(os.getpid(), signal.SIGKILL)

executor.append_jsonl = keep_then_die
sys.exit(main(sys.argv[1:]))
"""


def test_a_kill_during_a_candidates_pairs_keeps_the_finished_pairs_and_the_resume_goes_on_from_them(tmp_path):
    program = tmp_path / "sleeper"
    shutil.copytree(FIXTURES / "sleeper", program)
    model = write_session(tmp_path / "session.json", [answer(sleeper(40)), answer(sleeper(320))])
    run_dir = tmp_path / "run"
    first = subprocess.run([sys.executable, "-c", DIE_AFTER_TWO_PAIRS, "optimize", str(program), "--args", "100",
                            "--model", model, "--max-iterations", "1", "--repeats", "3-4", "--run-dir", str(run_dir)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == -9, first.stderr
    pairs_file = run_dir / "candidates" / "v001-zero-shot" / "pairs.jsonl"
    kept = pairs_file.read_text().splitlines()
    assert len(kept) == 2 and all(json.loads(line)["round"] == "screening" for line in kept)

    result = resume(run_dir)
    comparison = result.state["candidates"]["001"]["measurement"]["comparison"]
    lines = pairs_file.read_text().splitlines()
    assert lines[:2] == kept  # the finished pairs are kept as they were, and counted again rather than run again
    measured = [(r["new"], r["old"]) for r in (comparison["screening"], comparison["confirmation"]) if r]
    assert len(lines) == sum(len(new) for new, _ in measured)  # every pair once: none run twice, none dropped
    assert comparison["screening"]["new"][:2] == [json.loads(line)["new"][comparison["objective"]] for line in kept]
    assert result.finished
