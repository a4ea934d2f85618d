"""Without bubblewrap, what a program changes in the folders the tool relies on is put back, and named.

Each test lays out a small run directory and program folder, runs a shell script under `--sandbox none`
in one candidate's workspace, and compares every file afterwards with what was there before.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import tools.sandbox.guard as guard_module
import tools.sandbox.runner as runner_module
from tools.errors import LassiError
from tools.sandbox.isolation import Sandbox, bwrap_problem
from tools.sandbox.runner import run_program


@pytest.fixture
def layout(tmp_path) -> dict[str, Path]:
    run, prog = tmp_path / "run", tmp_path / "program"
    work = run / "candidates" / "v001-zero-shot" / "work"
    for folder in (work, run / "candidates" / "v000-source" / "work", prog / "data"):
        folder.mkdir(parents=True)
    (run / "candidates" / "v000-source" / "stdout.txt").write_text("sum = 5050\n")
    (run / "candidates" / "v000-source" / "main.cpp").write_text("int main() {}\n")
    (run / "run.json").write_text('{"program": "x"}\n')
    (prog / "main.cpp").write_text("int main() {}\n")
    (prog / "data" / "input.txt").write_text("1 2 3\n")
    (prog / "big.bin").write_bytes(os.urandom(3 << 20))
    os.link(prog / "big.bin", work / "big.bin")  # shared into the workspace, as large files are
    (run / "candidates" / "v000-source" / "link").symlink_to("stdout.txt")
    return {"run": run, "program": prog, "work": work}


def sandbox(layout) -> Sandbox:
    return Sandbox("none", "test", guarded=(("run directory", str(layout["run"])), ("program folder", str(layout["program"]))))


def snapshot(*folders: Path, leaving_out: Path) -> dict[str, str]:
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_relative_to(leaving_out):
                continue
            found[str(path)] = (f"link {os.readlink(path)}" if path.is_symlink() else
                                hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder")
    return found


def run_script(layout, script: str):
    return run_program(["sh", "-c", script], layout["work"], 30, sandbox=sandbox(layout))


ATTACKS = {
    "reference forged": ("echo 'sum = 0' > {run}/candidates/v000-source/stdout.txt",
                         "in the run directory candidates/v000-source/stdout.txt (changed)"),
    "file planted": ("echo x > {run}/planted.txt", "in the run directory planted.txt (added)"),
    "folder planted": ("mkdir -p {run}/loot/deep && echo x > {run}/loot/deep/f", "in the run directory loot (added)"),
    "source folder removed": ("rm -rf {run}/candidates/v000-source", "in the run directory candidates/v000-source (removed)"),
    "record emptied": (": > {run}/run.json", "in the run directory run.json (changed)"),
    "program file made a link": ("rm {program}/main.cpp && ln -s /etc/passwd {program}/main.cpp",
                                 "in the program folder main.cpp (changed)"),
    "program data removed": ("rm -r {program}/data", "in the program folder data (removed)"),
    "shared file written through the workspace": ("printf xx | dd of=big.bin conv=notrunc 2>/dev/null",
                                                  "in the program folder big.bin (changed)"),
    "another workspace written": ("echo x > {run}/candidates/v000-source/work/main",
                                  "in the run directory candidates/v000-source/work/main (added)"),
    "link retargeted": ("ln -sf /etc/passwd {run}/candidates/v000-source/link",
                        "in the run directory candidates/v000-source/link (changed)"),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_change_outside_the_workspace_is_put_back_and_named(layout, attack):
    script, named = ATTACKS[attack]
    before = snapshot(layout["run"], layout["program"], leaving_out=layout["work"])
    result = run_script(layout, script.format(**layout))
    assert snapshot(layout["run"], layout["program"], leaving_out=layout["work"]) == before
    assert not result.ok and result.failure(30).startswith("changed files outside its workspace, put back as they were")
    assert named in result.failure(30) and "(with the sandbox setting bwrap a program cannot reach them)" in result.failure(30)


def test_the_entries_of_a_folder_added_whole_are_not_named_one_by_one(layout):
    result = run_script(layout, ATTACKS["folder planted"][0].format(**layout))
    assert "loot/deep" not in result.failure(30)


def test_a_program_that_writes_only_its_workspace_runs_as_usual_again_and_again(layout):
    for _ in range(3):
        result = run_script(layout, "echo out > result.txt && mkdir -p sub && echo x > sub/y && rm -f big.bin.copy")
        assert result.ok, result.failure(30)
    assert (layout["work"] / "result.txt").read_text() == "out\n"


def test_what_the_tool_writes_between_runs_is_its_own_and_is_put_back_as_it_now_is(layout):
    reference = layout["run"] / "candidates" / "v000-source" / "stdout.txt"
    assert run_script(layout, "true").ok
    reference.write_text("sum = 5050\nmore\n")  # the tool itself, between two runs
    assert not run_script(layout, f"echo forged > {reference}").ok
    assert reference.read_text() == "sum = 5050\nmore\n"


def test_under_bubblewrap_nothing_is_watched_since_nothing_is_seen(layout, monkeypatch):
    if bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    monkeypatch.setattr(runner_module, "guard_for", lambda roots: pytest.fail("watched under bubblewrap"))
    result = run_program(["sh", "-c", "true"], layout["work"], 30, sandbox=Sandbox("bwrap", "test", guarded=sandbox(layout).guarded))
    assert result.ok


def test_a_change_too_large_to_have_been_copied_stops_the_run_naming_the_file_and_the_setting(layout, monkeypatch):
    monkeypatch.setattr(guard_module, "COPY_BUDGET_BYTES", 1 << 20)  # the 3 MiB file is not copied
    monkeypatch.setattr(guard_module, "_guards", {})
    with pytest.raises(LassiError) as caught:
        run_script(layout, "printf xx | dd of=big.bin conv=notrunc 2>/dev/null")
    assert "big.bin in the program folder (changed), too large to keep a copy of" in str(caught.value)
    assert "run with sandbox bwrap" in str(caught.value) and caught.value.setting == "sandbox"


def test_a_file_the_run_holds_open_removed_is_put_back_and_stops_the_run_rather_than_lose_what_follows(layout):
    checkpoints = layout["run"] / "checkpoints.sqlite"
    checkpoints.write_bytes(b"checkpoint 1\n")
    with checkpoints.open("ab") as held:  # as the checkpointer holds its database
        assert run_script(layout, "true").ok
        with pytest.raises(LassiError) as caught:
            run_script(layout, f"rm {checkpoints}")
        held.write(b"lost\n")
    assert "removed checkpoints.sqlite in the run directory (removed), which this run holds open" in str(caught.value)
    assert "resume the run" in str(caught.value) and checkpoints.read_bytes() == b"checkpoint 1\n"
