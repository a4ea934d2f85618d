"""Building programs: default flags, the GPU's architecture, and every shipped CUDA source with nvcc."""

import shutil
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tools.build import BINARY_NAME, build, build_command
from tools.program import load_program, stage_workspace

EXAMPLES = ROOT / "examples"
CUDA_PROGRAMS = sorted(p.parent for p in (EXAMPLES / "programs").glob("*/main.cu"))


def test_cuda_defaults_add_the_detected_architecture():
    command = build_command("cuda", "main.cu", arch="sm_90")
    assert command[1:] == ["-std=c++17", "-O3", "-Xcompiler", "-Wall", "-arch=sm_90", "main.cu", "-o", BINARY_NAME]


def test_user_flags_replace_the_defaults_but_keep_an_explicit_arch():
    assert build_command("cuda", "main.cu", flags="-O2 -arch=sm_80", arch="sm_90")[1:3] == ["-O2", "-arch=sm_80"]
    assert "-arch=sm_90" in build_command("cuda", "main.cu", flags="-O2", arch="sm_90")


def test_cpp_builds_with_openmp():
    assert build_command("cpp", "main.cpp")[1:] == ["-std=c++17", "-O3", "-fopenmp", "-Wall", "main.cpp", "-o",
                                                    BINARY_NAME]


def test_a_build_error_is_reported_with_its_first_error_line(program, tmp_path):
    prog = load_program(program)
    stage_workspace(prog, tmp_path / "w", {prog.main: "int main() { return undeclared; }\n"})
    result = build(tmp_path / "w", build_command("cpp", prog.main))
    assert not result.ok and "undeclared" in result.first_error()


def test_the_workspace_holds_the_whole_program_folder_with_the_new_main(program, tmp_path):
    prog = load_program(program)
    stage_workspace(prog, tmp_path / "w", {prog.main: "// new\n"})
    assert (tmp_path / "w" / "work.h").exists() and (tmp_path / "w" / "main.cpp").read_text() == "// new\n"


def cuda_sources() -> list[tuple[Path, Path]]:
    """(program folder, source) for every CUDA example and every candidate in its scripted session."""
    pairs = []
    for folder in CUDA_PROGRAMS:
        pairs.append((folder, folder / "main.cu"))
        pairs += [(folder, step) for step in sorted((EXAMPLES / "sessions" / folder.name).rglob("*.cu"))]
    return pairs


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
@pytest.mark.parametrize("folder, source", cuda_sources(), ids=lambda p: p.name if p.suffix else "")
def test_every_cuda_example_and_scripted_candidate_builds_with_nvcc(folder, source, tmp_path):
    prog = load_program(folder)
    stage_workspace(prog, tmp_path / "w", {prog.main: source.read_text()})
    result = build(tmp_path / "w", build_command("cuda", prog.main, arch="sm_90"))
    assert result.ok, result.log
