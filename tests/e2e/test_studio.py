"""`langgraph dev` serves the graph of langgraph.json: a run started over its HTTP API (what Studio
does) goes to the end offline, and the server neither reloads because the run wrote files nor
outlives the test.

The server is started as a user would (`langgraph dev --no-browser`, reloading on), from the project
folder, with the shipped langgraph.json plus `disable_persistence` so that no earlier session's threads
are loaded. The run writes its files inside the project folder, which the server watches; the test
removes them afterwards, and the `.langgraph_api/` folder the server leaves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client

from tests.helpers import ROOT

HEAT2D = "examples/programs/heat2d"
SESSION = "examples/sessions/heat2d/session.json"
START_TIMEOUT_S = 120
STARTUP_FAILED = "Application startup failed"  # uvicorn's line when the app (the graph's import) fails; the reloader stays
OFFLINE_ENV = {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "true", "LANGSMITH_TRACING": "false"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """A `langgraph dev` process in its own process group, with its log in a file."""

    def __init__(self, config: Path, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_", "OPENAI_"))}
        langgraph = Path(sys.executable).parent / "langgraph"
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [str(langgraph), "dev", "--no-browser", "--port", str(self.port), "--config", str(config)],
                cwd=ROOT, env={**env, **OFFLINE_ENV}, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, lines: int = 40) -> str:
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))  # the server colours its log
        return "\n".join(text.splitlines()[-lines:])

    def wait_until_up(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Poll /ok; fail with the server's own last words if it exits, fails to start or never answers."""
        client = get_sync_client(url=self.url)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"`langgraph dev` exited with status {self.process.returncode} before answering;"
                            f" its log ends:\n{self.log_tail()}")
            if STARTUP_FAILED in self.log.read_text(errors="replace"):
                pytest.fail(f"`langgraph dev` could not start the graph; its log ends:\n{self.log_tail()}")
            try:
                if client.http.get("/ok").get("ok"):
                    return
            except Exception:  # not listening yet
                pass
            time.sleep(0.5)
        pytest.fail(f"`langgraph dev` did not answer on {self.url} within {timeout_s:g} s; its log ends:\n{self.log_tail()}")

    def stop(self) -> int:
        """Interrupt the whole process group (the reloader and its worker), as Ctrl-C in a terminal does."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
                pytest.fail(f"`langgraph dev` ignored Ctrl-C for 30 s and was killed; its log ends:\n{self.log_tail()}")
        return self.process.returncode

    def group_gone(self, timeout_s: float = 15) -> bool:
        """Whether every process of the server's group (the reloader's worker too) has exited."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.2)
        return False


@pytest.fixture(autouse=True)
def no_server_files_left():
    """The in-memory runtime writes `.langgraph_api/` into the folder it serves, persistence off or not."""
    existed = (ROOT / ".langgraph_api").exists()
    yield
    if not existed:
        shutil.rmtree(ROOT / ".langgraph_api", ignore_errors=True)


@contextmanager
def dev_server(tmp_path: Path, **changes):
    """`langgraph dev` with the shipped langgraph.json, persistence off, and `changes` to its keys."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    test_config = tmp_path / "langgraph.json"
    test_config.write_text(json.dumps({**config, "disable_persistence": True, **changes}))
    dev = DevServer(test_config, tmp_path / "server.log")
    try:
        dev.wait_until_up()
        yield dev
    finally:
        dev.stop()
    assert dev.group_gone(), "a process of `langgraph dev` outlived the server"


@pytest.fixture
def server(tmp_path):
    with dev_server(tmp_path) as dev:
        yield dev


@pytest.fixture
def run_dir_in_project():
    """A run directory inside the folder the server watches, removed afterwards (with lassi-runs/ if it made it)."""
    runs = ROOT / "lassi-runs"
    existed = runs.exists()
    path = runs / f"studio-test-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path if existed else runs, ignore_errors=True)


@pytest.mark.slow
def test_a_run_started_over_the_dev_servers_http_api_goes_to_the_end(server, run_dir_in_project):
    client = get_sync_client(url=server.url)
    [assistant] = client.assistants.search(graph_id="lassi_ee")
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    # Studio's forms: the input names the program and its arguments; the context holds the settings.
    assert {"program", "args", "main"} <= set(schemas["input_schema"]["properties"])
    assert {"model", "coder_model", "judge_model", "gpu", "max_iterations", "rtol", "atol", "runs_root"} <= set(
        schemas["context_schema"]["properties"])

    thread = client.threads.create()
    final = client.runs.wait(thread["thread_id"], "lassi_ee",
                             input={"program": HEAT2D, "args": ["1000", "40"], "run_dir": str(run_dir_in_project)},
                             context={"model": f"scripted:{SESSION}", "max_iterations": 2})

    state = client.threads.get_state(thread["thread_id"])["values"]
    assert final["stage"] == state["stage"] == "done", f"the run did not finish; server log:\n{server.log_tail()}"
    best = state["candidates"][state["best"]]
    assert best["key"] != "000" and best["outcome"] == "better"
    report = run_dir_in_project / state["report"]
    assert report.is_file() and report.parent == run_dir_in_project
    assert f"v{best['version']:03d}" in report.read_text()
    assert state["iterations"] == 2
    log = server.log.read_text()
    assert "Reloading" not in log, "the server reloaded itself while the run wrote its files"
    assert server.stop() == 0 and server.group_gone(), "`langgraph dev` did not stop cleanly on Ctrl-C"


def test_the_dev_server_export_brings_no_checkpointer():
    from graph.studio import graph

    assert graph.checkpointer is None
    assert json.loads((ROOT / "langgraph.json").read_text())["graphs"]["lassi_ee"] == "./graph/studio.py:graph"


def test_a_server_that_cannot_start_fails_with_its_own_message(tmp_path):
    broken = tmp_path / "langgraph.json"
    broken.write_text(json.dumps({"dependencies": ["."], "graphs": {"lassi_ee": "./graph/no_such_file.py:graph"},
                                  "disable_persistence": True}))
    dev = DevServer(broken, tmp_path / "server.log")
    started = time.monotonic()
    try:
        with pytest.raises(pytest.fail.Exception) as failure:
            dev.wait_until_up()
    finally:
        dev.stop()
    assert "`langgraph dev` could not start the graph" in str(failure.value) and "no_such_file" in str(failure.value)
    assert time.monotonic() - started < START_TIMEOUT_S, "the failure was noticed only at the timeout"


def refused_run(dev: DevServer, run_dir: Path, context: dict) -> dict:
    """Start a heat2d run over the API and wait for its end: the error the client is given."""
    client = get_sync_client(url=dev.url)
    thread = client.threads.create()
    run = client.runs.create(thread["thread_id"], "lassi_ee", context=context,
                             input={"program": HEAT2D, "args": ["64", "5"], "run_dir": str(run_dir)})
    final = client.runs.join(thread["thread_id"], run["run_id"])
    assert client.runs.get(thread["thread_id"], run["run_id"])["status"] == "error"
    return final["__error__"]


def test_a_run_without_a_key_is_refused_with_the_clis_one_line_before_anything_is_measured(server, tmp_path):
    error = refused_run(server, tmp_path / "run", {"model": "openai:o3-mini"})
    assert error == {"error": "RunRefused", "message": "openai:o3-mini needs OPENAI_API_KEY (set it in the"
                     " environment or in .env), or a base_url for an OpenAI-compatible server"}
    assert not (tmp_path / "run").exists(), "the run started measuring before its model was checked"


def test_a_setting_out_of_range_is_refused_in_the_forms_words(server, tmp_path):
    error = refused_run(server, tmp_path / "run", {"model": f"scripted:{SESSION}", "max_iterations": 0})
    assert error["message"] == "max_iterations must be at least 1, not 0"


def test_the_servers_env_file_is_read_and_reaches_the_run(tmp_path):
    assert json.loads((ROOT / "langgraph.json").read_text())["env"] == ".env"  # the project folder's .env
    dotenv = tmp_path / "project.env"
    dotenv.write_text("LASSI_MODEL=openai:model-named-in-dotenv\n")
    with dev_server(tmp_path, env=str(dotenv)) as dev:
        error = refused_run(dev, tmp_path / "run", {})
    assert error["message"].startswith("openai:model-named-in-dotenv needs OPENAI_API_KEY")
