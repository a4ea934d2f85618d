"""A run killed with SIGKILL continues from its last checkpoint without redoing finished work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.programs import VALID, answer, sleeper


def lassi(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_resume_after_sigkill_finishes_without_rebuilding_or_remeasuring(program, session, tmp_path):
    model = session({"coder": [answer(sleeper(40)), answer(sleeper(2500))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    run_dir = tmp_path / "run"
    first = lassi("optimize", str(program), "--args", "100", "--model", model, "--max-iterations", "1",
                  "--run-dir", str(run_dir), cwd=tmp_path)
    wait_for(run_dir / "candidates" / "v002-plan-step" / "work" / "program")  # built; about to run for 2.5 s
    time.sleep(1.0)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    finished = run_dir / "candidates" / "v001-zero-shot"
    stamps = {name: (finished / name).stat().st_mtime_ns for name in ("build.log", "measurement.json", "stdout.txt")}
    assert not (run_dir / "report.md").exists()

    second = lassi("resume", str(run_dir), cwd=tmp_path)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "Best: v001" in out and (run_dir / "report.md").exists()
    assert {name: (finished / name).stat().st_mtime_ns for name in stamps} == stamps
    assert "v001" not in "".join(line for line in out.splitlines() if "compiler" in line or "executor" in line)
    assert sorted(p.name for p in (run_dir / "candidates").iterdir()) == ["v000-source", "v001-zero-shot",
                                                                         "v002-plan-step"]


def test_resume_of_a_finished_run_only_reports_it(program, session, tmp_path):
    model = session({"coder": [answer(sleeper(40)), answer(sleeper(320))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    run_dir = tmp_path / "run"
    done = lassi("optimize", str(program), "--model", model, "--max-iterations", "1", "--run-dir", str(run_dir),
                 cwd=tmp_path)
    assert done.wait(timeout=120) == 0
    again = lassi("resume", str(run_dir), cwd=tmp_path)
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0 and "Best: v001" in out and "compiler" not in out


def test_a_model_that_stays_down_stops_the_run_resumably_and_resume_finishes_it(program, session, tmp_path):
    down = {"error": "transient", "times": 99}
    model = session({"coder": [down, answer(sleeper(40)), answer(sleeper(320))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    run_dir = tmp_path / "run"
    first = lassi("optimize", str(program), "--model", model, "--max-iterations", "1", "--max-llm-retries", "1",
                  "--run-dir", str(run_dir), cwd=tmp_path)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 1 and "Traceback" not in err
    assert f"continue it with `lassi-ee resume {run_dir}`" in err and len(err.strip().splitlines()) == 1

    session_file = Path(model.removeprefix("scripted:"))  # the model is back
    data = json.loads(session_file.read_text())
    data["responses"]["coder"] = data["responses"]["coder"][1:]
    session_file.write_text(json.dumps(data))
    second = lassi("resume", str(run_dir), cwd=tmp_path)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "Best: v001" in out and "v000" not in "".join(line for line in out.splitlines() if "executor" in line)


# SIGKILL at every node in turn: each interrupted run, once resumed, ends as an uninterrupted run does.
NODES = ["compiler", "executor", "coder", "judge", "comparator", "summarizer", "planner", "reporter"]

HELD_INSIDE = """
import functools, importlib, sys, threading
from pathlib import Path
from app.cli import main

name, turn, arrived = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
module = importlib.import_module(f"nodes.{name}")
node, turns = module.node, []

@functools.wraps(node)
def held(state, runtime):
    update = node(state, runtime)
    turns.append(name)
    if len(turns) == turn:
        arrived.touch()
        threading.Event().wait()
    return update

module.node = held
sys.exit(main(sys.argv[4:]))
"""


def held_inside(node: str, turn: int, arrived: Path, *args: str, cwd: Path) -> subprocess.Popen:
    """The CLI with `args`, held inside `node` on its `turn`-th call until the test kills it: a barrier, not a timer.

    The run is started through a small script that wraps the node's function before the graph is built:
    on that call the node does all its work (builds, runs, asks the model, writes its files), then creates
    `arrived` and waits forever instead of returning its result. So the kill always lands inside the
    node, on every machine however loaded, and nothing of this exists in the product: no setting, no
    environment variable, no test mode a user could switch on.
    """
    return subprocess.Popen([sys.executable, "-c", HELD_INSIDE, node, str(turn), str(arrived), *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_until_arrived(run: subprocess.Popen, arrived: Path, seconds: float = 300) -> None:
    """Until the held run reaches its barrier; a run that ends first, or never arrives, fails the test."""
    deadline = time.monotonic() + seconds
    while not arrived.exists():
        assert run.poll() is None, f"the run ended before the barrier: {run.stderr.read()}"
        assert time.monotonic() < deadline, f"{arrived} never appeared"
        time.sleep(0.05)


RUN = ("--max-iterations", "1", "--repeats", "3-6", "--confirm-pairs", "3")  # 6 pairs: a clear saving on a loaded machine


@pytest.fixture(scope="module")
def killable(tmp_path_factory):
    """A program, a scripted session and an uninterrupted run of them: (program, model, its steps, summary)."""
    import shutil

    from tests.helpers import FIXTURES
    from tests.helpers.programs import SUMMARIES

    folder = tmp_path_factory.mktemp("killable")
    program = folder / "sleeper"
    shutil.copytree(FIXTURES / "sleeper", program)
    responses = {"coder": [answer(sleeper(40)), answer(sleeper(320))], "judge": [VALID] * 2, "planner": ["plan"],
                 "reporter": ["comparison"], **SUMMARIES}
    session_file = folder / "session.json"
    session_file.write_text(json.dumps({"about": "answers for kill tests", "responses": responses}))
    model = f"scripted:{session_file}"
    reference = folder / "reference"
    done = lassi("optimize", str(program), "--model", model, *RUN, "--run-dir", str(reference), cwd=folder)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    return program, model, steps(out), summary(reference)


def steps(out: str) -> list[str]:
    """The node of each step's progress line, in order (a line on a repeat being measured is no step)."""
    return [node for line in out.splitlines() if line.startswith("[")
            and (node := line.split("]", 1)[1].split()[0]) != "measure"]


def summary(run_dir: Path) -> dict:
    """What must not depend on interruptions: each candidate's lineage and fate, and that it was measured."""
    from app.api import open_run

    with open_run(run_dir) as (graph, config):
        state = graph.get_state(config).values
    assert state["stage"] == "done"
    candidates = {k: (c["origin"], c["parent"], c["status"], c.get("outcome"), "measurement" in c)
                  for k, c in state["candidates"].items()}
    folders = sorted(p.name for p in (run_dir / "candidates").iterdir())
    return {"candidates": candidates, "best": state["best"], "folders": folders}


def llm_calls(run_dir: Path) -> dict[str, int]:
    roles = [json.loads(line)["role"] for line in (run_dir / "llm.jsonl").read_text().splitlines()]
    return {role: roles.count(role) for role in roles}


@pytest.mark.parametrize("node", NODES)
def test_a_run_killed_inside_any_node_resumes_to_the_same_end(node, killable, tmp_path):
    from app.api import open_run

    program, model, reference_steps, reference = killable
    assert set(reference_steps) == set(NODES)
    run_dir, arrived = tmp_path / "run", tmp_path / "arrived"
    turn = reference_steps.count(node)  # its last turn: a checkpoint exists
    first = held_inside(node, turn, arrived, "optimize", str(program), "--model", model, *RUN,
                        "--run-dir", str(run_dir), cwd=tmp_path)
    wait_until_arrived(first, arrived)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    with open_run(run_dir) as (graph, config):
        pending = tuple(task.name for task in graph.get_state(config).tasks)  # to run, or run but not checkpointed
    assert pending == (node,), pending

    second = lassi("resume", str(run_dir), cwd=tmp_path)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert summary(run_dir) == reference


# Killed once a node's result is saved and before its step's checkpoint is: LangGraph keeps the result as a
# pending write of the step's starting checkpoint, which then lists no node still to run.
DIE_BEFORE_CHECKPOINT = """
import os, signal, sys, time
from langgraph.checkpoint.sqlite import SqliteSaver
from app.cli import main

step, saved_writes, saved_checkpoint = int(sys.argv[1]), SqliteSaver.put_writes, SqliteSaver.put
written = []  # one entry per step: the input's, then each node's (the saver is called from several threads)

def put_writes(self, *args):
    saved_writes(self, *args)
    written.append(args[2])

def put(self, config, checkpoint, metadata, new_versions):
    if metadata.get("step") == step:
        while len(written) <= step:  # the step's own writes are being saved
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)
    return saved_checkpoint(self, config, checkpoint, metadata, new_versions)

SqliteSaver.put_writes, SqliteSaver.put = put_writes, put
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("node", ["judge", "comparator"])
def test_a_run_killed_between_a_nodes_result_and_its_checkpoint_resumes_without_redoing_it(node, killable, tmp_path):
    from app.api import open_run

    program, model, reference_steps, reference = killable
    step = 1 + max(i for i, name in enumerate(reference_steps) if name == node)  # its last turn's checkpoint
    run_dir = tmp_path / "run"
    first = subprocess.run([sys.executable, "-c", DIE_BEFORE_CHECKPOINT, str(step), "optimize", str(program),
                            "--model", model, *RUN, "--run-dir", str(run_dir)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == -signal.SIGKILL, first.stderr
    with open_run(run_dir) as (graph, config):
        snapshot = graph.get_state(config)
    assert [task.name for task in snapshot.tasks] == [node] and snapshot.next == ()  # done, not checkpointed

    second = lassi("resume", str(run_dir), cwd=tmp_path)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert summary(run_dir) == reference
    assert llm_calls(run_dir) == llm_calls(program.parent / "reference")  # the judge's answer was not asked again


# Killed inside the executor once its files are written, before it returns its result.
DIE_AFTER_MEASURING = """
import os, signal, sys
import nodes.executor as executor
from app.cli import main

write_json = executor.write_json

def write_then_die(path, data):
    write_json(path, data)
    if path.name == executor.OUTCOME_FILE:
        os.kill(os.getpid(), signal.SIGKILL)

executor.write_json = write_then_die
sys.exit(main(sys.argv[1:]))
"""


def test_a_candidate_measured_just_before_a_kill_is_not_measured_again(killable, tmp_path):
    program, model, _, reference = killable
    run_dir = tmp_path / "run"
    first = subprocess.run([sys.executable, "-c", DIE_AFTER_MEASURING, "optimize", str(program), "--model", model,
                            *RUN, "--run-dir", str(run_dir)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == -signal.SIGKILL, first.stderr
    measured = run_dir / "candidates" / "v000-source" / "measurement.json"
    stamp = measured.stat().st_mtime_ns

    second = lassi("resume", str(run_dir), cwd=tmp_path)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert measured.stat().st_mtime_ns == stamp  # its measurement was taken over, not made again
    assert summary(run_dir) == reference


def test_a_model_that_fails_a_few_times_then_answers_lets_the_run_finish(program, session, settings):
    from app.api import optimize

    flaky = {"error": "transient", "times": 2}
    model = session({"coder": [flaky, answer(sleeper(40)), flaky, answer(sleeper(320))],
                     "judge": [flaky, VALID, VALID], "planner": [flaky, "plan"], "reporter": ["comparison"]})
    result = optimize(program, ["100"], **settings(model, max_iterations=1, max_llm_retries=2))
    assert result.finished and result.best["key"] == "001"
    log = [json.loads(line) for line in (result.run_dir / "llm.jsonl").read_text().splitlines()]
    assert sum("error" in record for record in log) == 8  # two failures before each of four answers


def test_each_step_is_reported_once_its_checkpoint_is_saved(program, settings):
    from app.api import open_run, profile

    heard, saved = [], []

    def listener(node: str, update: dict, state: dict) -> None:
        if node == "measure":  # a repeat under way, not a step
            return
        heard.append(node)
        with open_run(state["run_dir"]) as (graph, config):  # what a kill at this moment would leave
            history = list(graph.get_state_history(config))
        saved.append((len(history), history[0].values == state))

    profile(program, ["100"], on_step=listener, **settings(None))
    assert heard == ["compiler", "executor", "comparator"]
    assert saved == [(3, True), (4, True), (5, True)]  # the input's and the start's checkpoints, then one per step
