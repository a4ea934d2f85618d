"""Programs as users have them: every source compiled, include folders outside the folder, any text
encoding, big files shared rather than copied, several editable files read back from an answer."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from graph.context import make_context
from tests.helpers import FIXTURES
from tools.build import build, build_command
from tools.errors import LassiError
from tools.llm.files import listing
from tools.program import _sparse_copy, load_program, read_source, share_file, stage_workspace
from tools.sandbox.isolation import Sandbox, bwrap_problem, choose_sandbox
from tools.sandbox.runner import line_buffered, run_program

needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bubblewrap unusable: {bwrap_problem()}")
MiB = 1024 * 1024


def copy_fixture(name: str, tmp_path):
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def test_the_default_build_compiles_every_source_of_the_folder_but_other_programs(tmp_path):
    prog = load_program(copy_fixture("three-sources", tmp_path))
    assert prog.sources() == ["main.cpp", "add.cpp", "scale.cpp"]  # reference.cpp has a main() of its own
    stage_workspace(prog, tmp_path / "w", {prog.main: prog.read_main()})
    built = build(tmp_path / "w", build_command("cpp", prog.sources()))
    assert built.ok, built.log
    assert run_program([str(tmp_path / "w" / "program")], tmp_path / "w", 30).stdout == "add = 5\nscale = 40\n"


def test_the_main_source_alone_does_not_link_when_the_others_are_needed(tmp_path):
    prog = load_program(copy_fixture("three-sources", tmp_path))
    stage_workspace(prog, tmp_path / "w", {prog.main: prog.read_main()})
    built = build(tmp_path / "w", build_command("cpp", prog.sources(["main.cpp"])))
    assert not built.ok and "undefined reference" in built.log


def test_named_sources_must_be_files_inside_the_program_folder(tmp_path):
    prog = load_program(copy_fixture("three-sources", tmp_path))
    with pytest.raises(LassiError, match="not a file inside"):
        prog.sources(["../elsewhere.cpp"])
    with pytest.raises(LassiError, match="not a file inside"):
        prog.editable(["missing.h"])


def test_extra_flags_add_to_the_defaults_and_libraries_come_after_the_sources():
    command = build_command("cpp", ["main.cpp", "b.cpp"], extra_flags="-DNDEBUG", include_dirs=("/opt/x",),
                            libraries=("m", "-lpthread"))
    assert command[1:] == ["-std=c++17", "-O3", "-fopenmp", "-Wall", "-DNDEBUG", "-I/opt/x", "main.cpp", "b.cpp",
                           "-o", "program", "-lm", "-lpthread"]


@needs_bwrap
def test_a_header_in_a_sibling_folder_under_tmp_is_seen_read_only_inside_the_sandbox(tmp_path):
    assert str(tmp_path).startswith("/tmp"), "the case that matters: the sandbox has a private /tmp"
    shutil.copytree(FIXTURES / "sibling", tmp_path / "sibling")
    prog = load_program(tmp_path / "sibling" / "program")
    include = str(tmp_path / "sibling" / "reference")
    stage_workspace(prog, tmp_path / "w", {prog.main: prog.read_main()})
    hidden = build(tmp_path / "w", build_command("cpp", ["main.cpp"], include_dirs=(include,)), choose_sandbox("bwrap"))
    assert not hidden.ok and "reference.h" in hidden.log  # without the bind the private /tmp hides it
    box = Sandbox("bwrap", "test", read_only=(include,))
    assert build(tmp_path / "w", build_command("cpp", ["main.cpp"], include_dirs=(include,)), box).ok
    tamper = run_program(["/bin/sh", "-c", f"echo x >> {include}/reference.h"], tmp_path / "w", 30, sandbox=box)
    assert not tamper.ok and (tmp_path / "sibling" / "reference" / "reference.h").read_text() == "#define EXPECTED 42\n"


def test_a_latin1_source_is_read_as_text_and_written_back_in_latin1(tmp_path):
    prog = load_program(copy_fixture("latin1", tmp_path))
    original = prog.main_path.read_bytes()
    text, encoding = read_source(prog.main_path)
    assert "Température en °C" in text and encoding != "utf-8"
    stage_workspace(prog, tmp_path / "w", {prog.main: text})
    assert (tmp_path / "w" / "main.cpp").read_bytes() == original
    stage_workspace(prog, tmp_path / "w", {prog.main: text.replace("Température", "Durée")})
    assert b"Dur\xe9e" in (tmp_path / "w" / "main.cpp").read_bytes()


def test_a_named_encoding_is_used_and_an_unknown_one_is_refused(tmp_path):
    path = tmp_path / "a.cpp"
    path.write_bytes("// \u00e9".encode("utf-16"))
    assert read_source(path, "utf-16")[0] == "// é"
    with pytest.raises(LassiError, match="not a text encoding"):
        make_context(encoding="klingon-8")
    with pytest.raises(LassiError, match="not utf-16 text"):
        read_source(FIXTURES / "latin1" / "main.cpp", "utf-16")


def test_a_large_file_is_shared_and_a_small_one_copied(tmp_path):
    (tmp_path / "big.bin").write_bytes(b"x" * (2 * MiB))
    (tmp_path / "small.txt").write_text("small")
    share_file(str(tmp_path / "big.bin"), str(tmp_path / "big-shared.bin"))
    share_file(str(tmp_path / "small.txt"), str(tmp_path / "small-copy.txt"))
    big, shared = os.stat(tmp_path / "big.bin"), os.stat(tmp_path / "big-shared.bin")
    assert big.st_ino == shared.st_ino or _reflinked(tmp_path)
    assert os.stat(tmp_path / "small-copy.txt").st_ino != os.stat(tmp_path / "small.txt").st_ino


def _reflinked(folder) -> bool:
    """A reflink shares blocks without sharing the inode; this filesystem clones."""
    done = subprocess.run(["cp", "--reflink=always", folder / "small.txt", folder / "probe"], capture_output=True)
    return done.returncode == 0


def test_a_sparse_file_copied_across_filesystems_keeps_its_holes(tmp_path):
    with open(tmp_path / "sparse.bin", "wb") as f:
        f.seek(256 * MiB)
        f.write(b"end")
    _sparse_copy(str(tmp_path / "sparse.bin"), str(tmp_path / "copy.bin"))
    copy = os.stat(tmp_path / "copy.bin")
    assert copy.st_size == 256 * MiB + 3 and copy.st_blocks * 512 < MiB
    assert (tmp_path / "copy.bin").read_bytes()[-3:] == b"end"


@needs_bwrap
def test_a_shared_file_cannot_be_written_through_from_inside_the_sandbox(tmp_path):
    program = tmp_path / "prog"
    program.mkdir()
    (program / "main.cpp").write_text("int main() {}\n")
    (program / "input.bin").write_bytes(b"\0" * (2 * MiB))
    prog = load_program(program)
    stage_workspace(prog, tmp_path / "w", {prog.main: prog.read_main()})
    attempt = run_program(["/bin/sh", "-c", "echo x >> input.bin"], tmp_path / "w", 30, sandbox=Sandbox("bwrap", "test"))
    assert not attempt.ok and (program / "input.bin").read_bytes() == b"\0" * (2 * MiB)


def test_several_editable_files_are_listed_by_name():
    files = {"main.cpp": "int main() {}\n", "kernels.h": "void k();\n"}
    shown = listing(files)
    assert "File: main.cpp" in shown and "File: kernels.h" in shown
    assert listing({"main.cpp": "code\n"}) == "code\n"  # one file is shown as it is


def test_runs_are_line_buffered_where_stdbuf_exists():
    assert line_buffered(["./program"])[-2:] == ["-oL", "./program"] or shutil.which("stdbuf") is None


def test_your_own_build_needs_the_program_it_makes_and_the_run_line_can_name_it():
    with pytest.raises(LassiError, match="your own build needs binary"):
        make_context(build_command="make")
    assert make_context(build_command="make", run_command="./bin/app 3 4").binary == "bin/app"
    with pytest.raises(LassiError, match="sm_90"):
        make_context(arch="90")


def test_the_binary_must_stay_inside_the_program_folder():
    for outside in ("/usr/bin/true", "../elsewhere/app"):
        with pytest.raises(LassiError, match="a path inside the program folder"):
            make_context(build_command="make", binary=outside)
