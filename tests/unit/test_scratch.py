"""Scratch a program cannot shape: what it leaves in its workspace is never bound, followed or trusted."""

from __future__ import annotations

import os
import sys

import pytest

from tools.errors import LassiError
from tools.sandbox.containment import Limits
from tools.sandbox.isolation import Sandbox, bwrap_problem
from tools.sandbox.runner import run_program
from tools.sandbox.scratch import read_left_file

PYTHON = os.path.realpath(sys.executable)
SMALL = Limits(max_tasks=32, memory_bytes=256 * 1024 * 1024, file_bytes=4 * 1024 * 1024)


@pytest.fixture(params=["bwrap", "none"])
def box(request) -> Sandbox:
    if request.param == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    return Sandbox(request.param, "test", SMALL)


def test_every_run_gets_a_new_empty_temporary_folder_whatever_the_last_run_left(box, tmp_path):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    plant = (f"import os, tempfile; t = tempfile.gettempdir(); print(os.path.exists(os.path.join(t, 'left.txt')));"
             f" open(os.path.join(t, 'left.txt'), 'w').write('x');"
             f" os.path.lexists('.tmp') or os.symlink({str(elsewhere)!r}, '.tmp')")
    first = run_program([PYTHON, "-c", plant], work, 60, sandbox=box)
    second = run_program([PYTHON, "-c", plant], work, 60, sandbox=box)
    assert first.ok and second.ok, (first.stderr, second.stderr)
    assert first.stdout == second.stdout == "False\n"  # nothing of the first run's temporary files
    assert os.listdir(elsewhere) == [] and (work / ".tmp").is_symlink()  # the link was neither followed nor removed


def test_a_link_in_place_of_the_workspace_is_refused_with_one_line(box, tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "work").symlink_to(tmp_path / "target")
    with pytest.raises(LassiError, match="is not a folder"):
        run_program([PYTHON, "-c", "pass"], tmp_path / "work", 60, sandbox=box)


def test_a_file_the_tool_reads_back_is_not_followed_when_a_program_made_it_a_link(tmp_path):
    (tmp_path / "secret").write_text("do not read")
    (tmp_path / "counts.tsv").symlink_to(tmp_path / "secret")
    (tmp_path / "plain.tsv").write_text("kernels\t3\n")
    assert read_left_file(tmp_path / "counts.tsv") is None and read_left_file(tmp_path / "missing") is None
    assert read_left_file(tmp_path / "plain.tsv") == "kernels\t3\n"


def test_a_reference_output_changed_after_it_was_written_is_refused_naming_the_sandbox_setting(tmp_path):
    from tools.rundir import read_recorded, write_recorded

    reference = tmp_path / "stdout.txt"
    recorded = write_recorded(reference, "sum = 5050\n")
    assert read_recorded(reference, recorded) == "sum = 5050\n"
    reference.write_text("sum = 0\n")  # what a program without filesystem isolation could do
    with pytest.raises(LassiError, match="changed after it was written") as caught:
        read_recorded(reference, recorded)
    assert caught.value.setting == "sandbox"
