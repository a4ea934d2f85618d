"""Every notebook runs top to bottom in a Jupyter kernel, and is committed without outputs.

A notebook is for a user, who may run it on any machine, loaded or not: its cells show and explain what
happened (noise beating every candidate included) and assert nothing. What the run must have done is
checked here, outside the notebook, from the run directories it leaves and the text its cells printed.

Each notebook runs as a user would open it, from a `notebooks/` folder, but in a scratch copy of the
examples so its runs land in the scratch folder rather than in the project.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from app.api import open_run
from tests.helpers import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 900


def test_the_three_notebooks_are_there():
    assert {p.stem for p in NOTEBOOKS} >= {"quickstart", "inspection", "measurement"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_asserts_nothing_in_its_cells(path):
    """Measured outcomes depend on the machine: a cell shows and explains them, it does not fail on them."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            asserts = [n for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Assert)]
            assert not asserts, f"{path.name}: a cell asserts on line {asserts[0].lineno}:\n{cell.source}"


def test_the_report_is_shown_rendered_with_its_pictures_not_cut_as_text():
    cells = [c.source for c in nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4).cells
             if c.cell_type == "code"]
    shown = next(c for c in cells if "report.html" in c)
    assert "display(HTML(" in shown and "[:" not in shown


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom_and_leaves_the_runs_it_describes(path, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path / "notebooks")}})
    try:
        client.execute()
    except CellExecutionError as failure:
        pytest.fail(f"{path.name} failed in a cell:\n{failure}", pytrace=False)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells), "a cell was skipped"
    assert not list((tmp_path / "notebooks").iterdir()), "the notebook wrote into notebooks/"
    runs = sorted(p.parent for p in (tmp_path / "lassi-runs").glob("*/run.json"))
    CHECKS[path.stem](runs, _printed(code_cells))


def _quickstart(runs: list[Path], printed: str) -> None:
    """One finished run, whose best is the source or a candidate the comparator called better, and said which."""
    (run,) = runs
    state = _final_state(run)
    best = state["candidates"][state["best"]]
    assert state["stage"] == "done" and best["outcome"] in ("baseline", "better")
    said = f"best: v{best['version']:03d}" if best["outcome"] == "better" else "No candidate beat the source"
    assert said in printed and state["stop_reason"] in printed
    fixes = [c for c in state["candidates"].values() if c["origin"] == "fix"]
    assert not fixes or "(correction 1 of 5)" in printed
    assert (run / "report.html").read_text().count('<img src="data:image/png;base64,') >= 1


def _measurement(runs: list[Path], printed: str) -> None:
    """Two profiles that ran and were measured, and a verdict in the tool's words."""
    assert len(runs) == 2
    for run in runs:
        source = _final_state(run)["candidates"]["000"]
        assert source["status"] == "ran" and source["measurement"]["repeats"] >= 2
    assert any(verdict in printed for verdict in ("By the tool's rule the rewrite is better", "Not a significant saving",
                                                  "A significant saving, but smaller"))


def _inspection(runs: list[Path], printed: str) -> None:
    """The paused, edited and replayed run went to its end, and each thing the notebook showed was so."""
    (run,) = runs
    assert _final_state(run)["stage"] == "done" and (run / "report.html").is_file()
    for shown in ("paused before: judge; finished: False", "paused before: coder; plan 1:",
                  "next: coder; the plan ends with the added step: True", "1 plan-step prompt; it carries the added step: True",
                  "Stage 0 (the source needs no judge): __start__ → compiler → executor → comparator",
                  "edits made by hand: 1", "the planner's own plan again, without the notebook's step: True",
                  "finished: True", "the replayed checkpoint is still in the thread: True"):
        assert shown in printed, shown
    with open_run(run) as (graph, config):
        assert [s.metadata["source"] for s in graph.get_state_history(config)].count("update") == 1


CHECKS = {"quickstart": _quickstart, "measurement": _measurement, "inspection": _inspection}


def _final_state(run: Path) -> dict:
    with open_run(run) as (graph, config):
        return graph.get_state(config).values


def _printed(cells) -> str:
    return "".join(out.get("text", "") for c in cells for out in c.outputs if out.get("output_type") == "stream")
