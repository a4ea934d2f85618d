"""Programs as users have them, through the whole tool: their own Makefile or CMake build and run line,
a kernel in an editable header, a Latin-1 source, a big sparse input, output kept when a run is
killed, and CUDA builds for a named architecture on a machine without a GPU."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from app.api import build, optimize, profile
from app.cli import main
from tests.helpers import FIXTURES, ROOT
from tests.helpers.programs import VALID, answer, sleeper
from tools.errors import LassiError

CUDA_EXAMPLES = sorted(p.parent for p in (ROOT / "examples" / "programs").glob("*/main.cu"))
MiB = 1024 * 1024


def copy_fixture(name: str, tmp_path):
    shutil.copytree(FIXTURES / name, tmp_path / name)
    return tmp_path / name


def session_of(session, coder: list[str]) -> str:
    return session({"coder": coder, "judge": [VALID] * len(coder), "planner": ["plan"], "reporter": ["comparison"]})


def test_a_makefile_program_is_built_by_its_makefile_and_run_by_its_own_line(tmp_path, settings):
    result = profile(copy_fixture("makefile", tmp_path), build_command="make FLAGS=-O1", run_command="./bin/app 6 7",
                     **settings("scripted:none", min_repeats=2, max_repeats=2))
    src = result.source
    assert src["build"]["command"][-1] == "make FLAGS=-O1" and src["build"]["binary"].endswith("work/bin/app")
    assert open(src["run"]["stdout_path"]).read() == "product = 42\n"
    assert json.loads((result.run_dir / "run.json").read_text())["args"] == ["6", "7"]


def test_a_run_line_and_separate_arguments_are_refused_together(tmp_path, settings):
    with pytest.raises(LassiError, match="names the program's arguments already"):
        profile(copy_fixture("makefile", tmp_path), ["1"], build_command="make", run_command="./bin/app 6 7",
                **settings("scripted:none"))


def test_a_build_that_leaves_no_binary_fails_saying_so(tmp_path, settings):
    with pytest.raises(LassiError, match="left no bin/missing"):
        build(copy_fixture("makefile", tmp_path), build_command="make", binary="bin/missing",
              **settings("scripted:none"))


def test_a_cmake_program_is_configured_once_and_each_candidate_built_in_that_tree(tmp_path, session, settings):
    program = copy_fixture("cmake", tmp_path)
    faster = (program / "main.cpp").read_text().replace("WAIT_MS 200", "WAIT_MS 40")
    result = optimize(program, **settings(session_of(session, [answer(faster), answer(faster)]), max_iterations=1,
                                          configure_command="cmake -S . -B build -DCMAKE_BUILD_TYPE=Release",
                                          build_command="cmake --build build", binary="build/app"))
    tree = result.run_dir / "build-tree"
    assert (tree / ".configured").is_file() and (tree / "build" / "CMakeCache.txt").is_file()
    candidates = result.state["candidates"]
    assert [c["status"] for c in candidates.values()] == ["ran", "judged", "judged"] and result.best["key"] == "001"
    later_log = open(candidates["002"]["build"]["log_path"]).read()
    assert "Configuring done" not in later_log and "Building CXX object" in later_log


def test_a_kernel_in_an_editable_header_is_changed_and_the_rest_of_the_folder_is_not(tmp_path, session, settings):
    program = copy_fixture("kernel-header", tmp_path)
    header = (program / "kernels.h").read_text()
    only_header = f"The kernel waits less.\n\nkernels.h:\n```cpp\n{header.replace('WAIT_MS 200', 'WAIT_MS 40')}```\n"
    reply = only_header + "\nmain.cpp:\n```cpp\nint main() { return 0; }\n```\n"  # main.cpp is not editable
    result = optimize(program, edit=["kernels.h"],
                      **settings(session_of(session, [reply, only_header, only_header]), max_iterations=1))
    best = result.best
    assert "the answer changes main.cpp, which may not be edited" in best["answer"]["problems"][0]  # refused
    work = result.run_dir / "candidates" / "v001-zero-shot" / "work"
    assert best["key"] == "001" and list(best["files"]) == ["kernels.h"]
    assert "WAIT_MS 40" in (work / "kernels.h").read_text()
    assert (work / "main.cpp").read_text() == (program / "main.cpp").read_text()
    report = result.report_path.read_text()
    assert "best/kernels.h" in report and "+#define WAIT_MS 40" in report
    exchanges = [json.loads(line) for line in (result.run_dir / "llm.jsonl").read_text().splitlines()]
    prompt = next(e["prompt"] for e in exchanges if e["key"] == "coder")
    assert "inline void kernel()" in prompt and "kernel();" not in prompt  # the header alone is shown


def test_a_latin1_source_is_given_to_the_model_as_text_and_staged_in_latin1(tmp_path, settings):
    program = copy_fixture("latin1", tmp_path)
    result = profile(program, **settings("scripted:none", min_repeats=2, max_repeats=2))
    src = result.source
    assert "Température en °C" in open(src["source"], encoding="utf-8").read()
    assert (result.run_dir / "candidates" / "v000-source" / "work" / "main.cpp").read_bytes() == \
        (program / "main.cpp").read_bytes()


def test_a_sparse_gigabyte_input_does_not_grow_the_run_over_three_candidates(program, tmp_path, session, settings):
    with open(program / "input.bin", "wb") as f:
        f.write(b"data" * 1024)
        f.seek(1024 * MiB - 4)
        f.write(b"end.")
    model = session_of(session, [answer(sleeper(40)), answer(sleeper(320)), answer(sleeper(320))])
    result = optimize(program, ["100"], **settings(model, max_iterations=2))
    assert len(result.candidates) == 4 and result.finished
    assert _stored_bytes(result.run_dir) < 8 * MiB
    assert (result.run_dir / "best" / "input.bin").stat().st_size == 1024 * MiB


def _stored_bytes(folder) -> int:
    """The disk space a folder takes, counting each file once however many links it has (as du does)."""
    seen, total = set(), 0
    for path in folder.rglob("*"):
        stat = path.lstat()
        if stat.st_ino not in seen:
            seen.add(stat.st_ino)
            total += stat.st_blocks * 512
    return total


def test_a_program_killed_at_its_time_limit_shows_what_it_printed(tmp_path, settings):
    with pytest.raises(LassiError, match="time limit of 3 s.*first line / second line"):
        profile(copy_fixture("chatty", tmp_path), time_limit=3, **settings("scripted:none"))


def test_an_include_folder_that_does_not_exist_is_refused_before_any_work(tmp_path, settings):
    with pytest.raises(LassiError, match="not a folder"):
        build(copy_fixture("sibling", tmp_path) / "program", include_dirs=["../nowhere"], **settings("scripted:none"))


def test_a_header_in_a_sibling_folder_builds_with_include_dir_and_is_recorded(tmp_path, settings):
    program = copy_fixture("sibling", tmp_path) / "program"
    result = build(program, include_dirs=["../reference"], **settings("scripted:none"))
    assert result.source["status"] == "built" and f"-I{program.parent / 'reference'}" in result.source["build"]["command"]
    assert json.loads((result.run_dir / "run.json").read_text())["include_dirs"] == [str(program.parent / "reference")]


@pytest.mark.skipif(shutil.which(os.environ.get("NVCC", "nvcc")) is None, reason="nvcc not installed")
@pytest.mark.parametrize("arch", ["sm_90", "sm_80"])
@pytest.mark.parametrize("folder", CUDA_EXAMPLES, ids=lambda p: p.name)
def test_lassi_ee_build_builds_every_cuda_example_for_an_architecture_without_a_gpu(folder, arch, tmp_path, capsys):
    assert main(["build", str(folder), "--arch", arch, "--runs-root", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert f"-arch={arch}" in said and "Built " in said
