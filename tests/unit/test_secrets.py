"""Secret values: never in a contained program's environment, masked in what leaves the process."""

from __future__ import annotations

import json

from tools.llm.models import Models, Retries
from tools.sandbox.environment import contained_env
from tools.secrets import mask


def test_a_program_gets_the_needed_variables_and_no_key():
    host = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "4", "CUDA_VISIBLE_DEVICES": "0",
            "OPENAI_API_KEY": "sk-1234567890", "GITHUB_TOKEN": "ghp_abcdef", "HOME": "/root", "EDITOR": "vi"}
    env = contained_env("/scratch", {"CUDA_VISIBLE_DEVICES": "GPU-1"}, source=host)
    assert env == {"PATH": "/usr/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "4", "CUDA_VISIBLE_DEVICES": "GPU-1",
                   "HOME": "/scratch", "TMPDIR": "/scratch"}


def test_a_variable_the_user_passes_reaches_the_program_even_with_a_secret_name():
    host = {"PATH": "/bin", "MY_LICENSE_TOKEN": "abc-123-xyz", "OTHER_TOKEN": "no"}
    assert contained_env("/s", pass_env=["MY_LICENSE_TOKEN"], source=host)["MY_LICENSE_TOKEN"] == "abc-123-xyz"
    assert "OTHER_TOKEN" not in contained_env("/s", pass_env=["MY_LICENSE_TOKEN"], source=host)


def test_a_prefix_that_looks_harmless_does_not_let_a_key_through():
    assert "CUDA_API_KEY" not in contained_env("/s", source={"CUDA_API_KEY": "k" * 20})


def test_secret_values_are_masked_by_name_and_short_or_ordinary_values_are_not():
    host = {"OPENAI_API_KEY": "sk-live-0123456789", "DB_PASSWORD": "1", "PATH": "/usr/bin:/bin"}
    text = "key sk-live-0123456789 in /usr/bin:/bin with 1 run"
    assert mask(text, host) == "key [OPENAI_API_KEY masked] in /usr/bin:/bin with 1 run"


def test_a_prompt_quoting_a_secret_is_masked_before_it_is_sent_and_logged(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_SECRET", "hunter2-hunter2")
    session = tmp_path / "s.json"
    session.write_text(json.dumps({"about": "t", "responses": {"coder": ["ok"]}}))
    models = Models({"coder": f"scripted:{session}"}, tmp_path / "llm.jsonl", retries=Retries(backoff_s=0))
    models.ask("coder", "system hunter2-hunter2", "the program printed hunter2-hunter2", None, 0)
    logged = (tmp_path / "llm.jsonl").read_text()
    assert "hunter2" not in logged and "[SERVICE_SECRET masked]" in logged
