"""Run-directory files: atomic, readable, and robust to a line torn by a crash."""

import json
import stat

from tools.rundir import append_jsonl, read_jsonl, write_json


def test_a_torn_line_spoils_only_itself(tmp_path):
    log = tmp_path / "llm.jsonl"
    append_jsonl(log, {"n": 1})
    with log.open("a") as f:
        f.write('{"n": 2, "resp')  # a crash in the middle of a line
    append_jsonl(log, {"n": 3})
    assert read_jsonl(log) == [{"n": 1}, {"n": 3}]


def test_json_files_are_replaced_whole_and_readable_by_others(tmp_path):
    path = tmp_path / "measurement.json"
    write_json(path, {"a": 1})
    write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert path.stat().st_mode & stat.S_IROTH
    assert [p.name for p in tmp_path.iterdir()] == ["measurement.json"]
