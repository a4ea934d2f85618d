"""The README's Python example runs as written, from a folder holding the examples, as a new user
would paste it."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.helpers import ROOT


def python_example() -> str:
    """The first Python block of the README's "The Python API" section."""
    readme = ROOT / "README.md"
    section = readme.read_text().split("\n## The Python API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```", section, flags=re.S | re.M)
    assert blocks, f"{readme}: the section 'The Python API' holds no ```python block"
    return blocks[0]


def test_the_example_uses_the_api_the_issue_names():
    code = python_example()
    for name in ("optimize(", "resume(", "open_run(", ".best", ".table", ".run_dir", "interrupt_before"):
        assert name in code


@pytest.mark.slow
def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(python_example(), "README.md (The Python API)", "exec"), namespace)

    result, paused, finished = namespace["result"], namespace["paused"], namespace["finished"]
    assert result.finished and result.best["key"] != "000" and result.report_path.is_file()
    assert result.run_dir.parent == tmp_path / "lassi-runs"
    assert paused.paused_before == ("judge",) and not paused.finished
    assert finished.finished and finished.run_dir == paused.run_dir
    assert [s.next for s in namespace["history"]][0] == ("judge",)
    printed = capsys.readouterr().out
    assert str(result.report_path) in printed and "('judge',)" in printed
