"""The Python API pauses a run before chosen nodes, continues it, and replays it from an earlier checkpoint."""

from __future__ import annotations

import pytest

from app.api import open_run, optimize, resume
from tests.helpers.programs import VALID, answer, sleeper
from tools.errors import LassiError


@pytest.fixture
def paused(program, session, settings):
    """A one-iteration run paused before its first judge."""
    model = session({"coder": [answer(sleeper(40)), answer(sleeper(320))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    return optimize(program, ["100"], interrupt_before=["judge"], **settings(model, max_iterations=1))


def test_a_run_paused_before_the_judge_waits_there_until_resumed(paused):
    assert paused.paused_before == ("judge",) and not paused.finished
    assert paused.state["current"] == "001" and paused.state["candidates"]["001"]["status"] == "ran"
    assert "validation" not in paused.state["candidates"]["001"]

    again = resume(paused.run_dir, interrupt_before=["judge"])  # through this judge, to the next one
    assert again.paused_before == ("judge",) and again.state["current"] == "002"
    assert again.state["candidates"]["001"]["status"] == "judged"

    done = resume(paused.run_dir)
    assert done.finished and done.paused_before == () and done.best["key"] == "001"
    assert done.report_path.is_file()


def test_a_replay_from_an_earlier_checkpoint_forks_the_run(paused):
    done = resume(paused.run_dir)
    with open_run(paused.run_dir) as (graph, config):
        history = list(graph.get_state_history(config))
    before_report = next(s for s in history if s.next == ("reporter",))
    start = before_report.config["configurable"]["checkpoint_id"]

    replayed = resume(paused.run_dir, checkpoint_id=start)
    assert replayed.finished and replayed.state["candidates"] == done.state["candidates"]
    with open_run(paused.run_dir) as (graph, config):
        after = list(graph.get_state_history(config))
    assert len(after) > len(history)  # the old branch stays in the history
    latest_branch = ancestors(after[0], after)
    assert start in latest_branch and history[0].config["configurable"]["checkpoint_id"] not in latest_branch


def ancestors(snapshot, history) -> list[str]:
    """Checkpoint ids from `snapshot` back to the run's first, following parent links."""
    by_id = {s.config["configurable"]["checkpoint_id"]: s for s in history}
    chain = []
    while snapshot is not None:
        chain.append(snapshot.config["configurable"]["checkpoint_id"])
        parent = snapshot.parent_config
        snapshot = by_id.get(parent["configurable"]["checkpoint_id"]) if parent else None
    return chain


def test_a_replay_from_a_checkpoint_the_run_does_not_hold_is_refused(paused):
    with pytest.raises(LassiError, match="no checkpoint nonsense in .*checkpoints.sqlite"):
        resume(paused.run_dir, checkpoint_id="nonsense")


def test_a_misspelt_node_to_pause_before_is_refused_before_any_work(program, session, settings, tmp_path):
    model = session({"coder": [answer(sleeper(40))]})
    with pytest.raises(LassiError, match="cannot pause before 'judg': the graph's nodes are compiler, executor"):
        optimize(program, interrupt_before=["judg"], **settings(model))
    assert not (tmp_path / "runs").exists()
