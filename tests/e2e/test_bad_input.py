"""Bad input gets one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import FIXTURES, ROOT
from tests.helpers.cli import lassi, one_clear_line
from tests.helpers.programs import nvidia_gpu_present, sleeper


def test_missing_program(tmp_path):
    one_clear_line(lassi("profile", "no/such/folder", cwd=tmp_path), "program not found: no/such/folder")


def test_folder_without_a_source(tmp_path):
    (tmp_path / "empty").mkdir()
    one_clear_line(lassi("profile", "empty", cwd=tmp_path), "no CUDA or C++ source", "main.cu or main.cpp")


def test_source_that_does_not_build(program, tmp_path):
    (program / "main.cpp").write_text(sleeper(fault="build"))
    one_clear_line(lassi("profile", str(program), cwd=tmp_path), "the source does not build", "build.log")


def test_program_that_crashes(program, tmp_path):
    (program / "main.cpp").write_text(sleeper(fault="crash"))
    one_clear_line(lassi("profile", str(program), cwd=tmp_path), "the source was killed by SIGABRT")


def test_program_that_hangs_past_its_time_limit(program, tmp_path):
    (program / "main.cpp").write_text(sleeper(fault="hang"))
    result = lassi("profile", str(program), "--time-limit", "1", cwd=tmp_path)
    one_clear_line(result, "the source ran past its time limit of 1 s")


@pytest.mark.skipif(nvidia_gpu_present() or shutil.which("nvcc") is None, reason="needs a machine with nvcc and no NVIDIA GPU")
def test_cuda_program_without_an_nvidia_gpu(tmp_path):
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "main.cu").write_text("int main() { return 0; }\n")
    one_clear_line(lassi("profile", "k", cwd=tmp_path), "no NVIDIA GPU")


def test_unknown_model_provider(program, tmp_path):
    one_clear_line(lassi("optimize", str(program), "--model", "acme:brain-1", cwd=tmp_path),
                   "unknown model provider 'acme'", "openai")


def test_model_name_without_a_provider(program, tmp_path):
    one_clear_line(lassi("optimize", str(program), "--model", "o3-mini", cwd=tmp_path), "provider:model")


def test_missing_api_key(program, tmp_path):
    env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    one_clear_line(lassi("optimize", str(program), "--model", "openai:o3-mini", cwd=tmp_path, env=env),
                   "needs OPENAI_API_KEY")


def test_missing_scripted_session(program, tmp_path):
    one_clear_line(lassi("optimize", str(program), "--model", "scripted:nowhere.json", cwd=tmp_path),
                   "scripted model file not found")


@pytest.mark.parametrize("flag, value, message", [("--max-iterations", "0", "--max-iterations must be at least 1"),
                                                  ("--repeats", "1", "--repeats must be at least 2"),
                                                  ("--repeats", "5-3", "needs MAX >= MIN"),
                                                  ("--repeats", "many", "--repeats takes N or MIN-MAX"),
                                                  ("--target-ci", "0", "--target-ci must be in (0, 1), not 0"),
                                                  ("--min-improvement", "1.5", "--min-improvement must be in [0, 1), not 1.5")])
def test_out_of_range_settings(program, tmp_path, flag, value, message):
    one_clear_line(lassi("optimize", str(program), "--model", "scripted:x.json", flag, value, cwd=tmp_path), message)


def test_resume_of_a_folder_without_a_run(tmp_path):
    one_clear_line(lassi("resume", str(tmp_path), cwd=tmp_path), "no run in", "run.json is missing")


def test_gpu_flag_on_a_cpu_program(program, tmp_path):
    one_clear_line(lassi("profile", str(program), "--gpu", "0", cwd=tmp_path), "--gpu applies to CUDA programs only")


def test_a_non_empty_run_dir_is_refused_and_left_untouched(program, tmp_path):
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "precious.txt").write_text("keep me")
    one_clear_line(lassi("profile", str(program), "--run-dir", "existing", cwd=tmp_path), "not an empty folder")
    assert (tmp_path / "existing" / "precious.txt").read_text() == "keep me"


def test_a_run_dir_that_is_a_file(program, tmp_path):
    (tmp_path / "afile").write_text("")
    one_clear_line(lassi("profile", str(program), "--run-dir", "afile", cwd=tmp_path), "not an empty folder")


def test_a_runs_root_that_is_a_file(program, tmp_path):
    (tmp_path / "afile").write_text("")
    one_clear_line(lassi("profile", str(program), "--runs-root", "afile", cwd=tmp_path), "cannot create the run directory")


def test_compiler_flags_that_do_not_split(program, tmp_path):
    one_clear_line(lassi("profile", str(program), "--flags", '"-O2', cwd=tmp_path), "--flags could not be split")


def test_extra_arguments_that_do_not_split(program, tmp_path):
    one_clear_line(lassi("optimize", str(program), "--model", "scripted:x.json", "--check-args", '"7', cwd=tmp_path),
                   "--check-args '\"7' could not be split")


def test_an_output_mask_that_is_not_a_regular_expression(program, tmp_path):
    one_clear_line(lassi("optimize", str(program), "--model", "scripted:x.json", "--mask", "time (", cwd=tmp_path),
                   "--mask 'time (' is not a regular expression")


def test_a_main_given_as_a_path(program, tmp_path):
    one_clear_line(lassi("profile", str(program), "--main", "../main.cpp", cwd=tmp_path), "a file name inside")


def test_a_main_source_that_is_not_in_the_encoding_named(program, tmp_path):
    (program / "main.cpp").write_bytes("// caf\xe9\nint main() { return 0; }\n".encode("latin-1"))
    one_clear_line(lassi("profile", str(program), "--encoding", "utf-8", cwd=tmp_path), "is not utf-8 text",
                   "--encoding")


def test_a_damaged_run_json(tmp_path):
    (tmp_path / "run.json").write_text("{ not json")
    one_clear_line(lassi("resume", str(tmp_path), cwd=tmp_path), "run.json is damaged")


def test_a_malformed_scripted_session_is_reported_before_any_work(program, tmp_path):
    (tmp_path / "s.json").write_text('{"responses": {"coder": [{"code_file": "missing.cpp"}]}}')
    one_clear_line(lassi("optimize", str(program), "--model", "scripted:s.json", cwd=tmp_path), "not a valid session")
    assert not (tmp_path / "lassi-runs").exists()


README = ROOT / "README.md"


def readme_rows() -> list[tuple[str, str]]:
    """The bad-input table of the README: (command line, the message after 'lassi-ee: error: ')."""
    rows = []
    for line in README.read_text().splitlines():
        if line.startswith("| `lassi-ee "):
            given, message = line.strip().strip("|").split(" | ")
            rows.append((given.split("`")[1], message.strip().strip("`").strip()))
    return rows


class FourGpus:
    """NVML as a machine with GPUs 0 to 3 answers the calls made before any GPU is used."""

    class NVMLError(Exception):
        pass

    def nvmlDeviceGetCount(self) -> int:
        return 4


# The suite files the README's `lassi-ee bench` rows name, each with one mistake.
BAD_SUITES = {"broken.toml": "trials = \n", "empty.toml": "trials = 2\n",
              "typo.toml": 'max_iterations = 2\n[[program]]\nfolder = "prog"\n',
              "zero.toml": 'trials = 0\n[[program]]\nfolder = "prog"\n',
              "nofolder.toml": '[[program]]\nargs = "100"\n', "lost.toml": '[[program]]\nfolder = "nowhere"\n',
              "twice.toml": '[[program]]\nfolder = "prog"\n[[program]]\nfolder = "prog"\n',
              "types.toml": '[[program]]\nfolder = "prog"\nmax-iterations = "3"\n',
              "range.toml": 'max-iterations = 0\n[[program]]\nfolder = "prog"\n'}


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """The folders the README's rows name: prog (C++), kernel (CUDA), empty, two (two sources), old-run;
    and the suite files."""
    import tools.gpu

    shutil.copytree(FIXTURES / "sleeper", tmp_path / "prog")
    (tmp_path / "prog" / "notes.txt").write_text("notes")
    for folder, files in {"kernel": ["main.cu"], "empty": [], "two": ["a.cpp", "b.cpp"]}.items():
        (tmp_path / folder).mkdir()
        for name in files:
            (tmp_path / folder / name).write_text("int main() { return 0; }\n")
    for name, text in BAD_SUITES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "old-run").mkdir()
    (tmp_path / "old-run" / "run.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NVCC", "true")  # a CUDA compiler is found, here and on CI machines without one
    monkeypatch.setattr(tools.gpu, "nvml", lambda: FourGpus())
    return tmp_path


@pytest.mark.parametrize("command, message", readme_rows(), ids=[row[0] for row in readme_rows()])
def test_every_row_of_the_readme_table_gets_its_message(command, message, workspace, capsys):
    import shlex

    from app.cli import main

    assert main(shlex.split(command)[1:]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lassi-ee: error: "), lines
    said, at = lines[0].removeprefix("lassi-ee: error: "), 0
    for piece in message.split("…"):  # … stands for an absolute path
        found = said.find(piece, at)
        assert found >= 0 and (at > 0 or found == 0), f"{said!r} does not read {message!r}"
        at = found + len(piece)
    assert at == len(said), f"{said!r} does not read {message!r}"


def test_the_readme_table_is_there():
    assert len(readme_rows()) >= 20
