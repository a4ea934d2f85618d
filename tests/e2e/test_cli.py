"""The CLI as a user meets it: settings from .env in the folder they work in, output they can read."""

import os
import subprocess
import sys

from tests.helpers.programs import VALID, answer, sleeper


def test_dotenv_in_the_working_folder_sets_the_model(program, session, tmp_path):
    model = session({"coder": [answer(sleeper(40)), answer(sleeper(320))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    (tmp_path / ".env").write_text(f"LASSI_MODEL={model}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("LASSI_MODEL", "OPENAI_API_KEY")}
    done = subprocess.run([sys.executable, "-m", "app.cli", "optimize", str(program), "--max-iterations", "1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "scripted: recorded answers replayed" in done.stdout.splitlines()[0] and "Best: v001" in done.stdout
