"""The `scripted:PATH` model: replays recorded answers, per role, for tests, demos and exact re-runs.

The answer to a call is chosen by the call's key (its role, or `role/task`) and its index, which the
pipeline keeps in its checkpointed state, so a resumed run receives the same answers an
uninterrupted run would have. The file format is described in examples/README.md.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from tools.errors import LassiError
from tools.llm.reply import Reply, TransientModelError

FENCE_TAGS = {".cu": "cuda", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp"}


class NoRecordedAnswer(LassiError):
    """The session holds no answer for this call: one it never recorded, or one past its last."""


@dataclass(frozen=True)
class ScriptedAnswer:
    text: str
    fail_first: int = 0  # transient failures before this answer is given
    delay_s: float = 0.0
    finish_reason: str = "stop"  # "length" replays an answer cut off at the output-token limit


class ScriptedClient:
    def __init__(self, path: str):
        self.path = path
        self._loaded: tuple[int, dict[str, list[ScriptedAnswer]]] | None = None

    @property
    def answers(self) -> dict[str, list[ScriptedAnswer]]:
        """The session's answers, read again whenever the file changes (edited between runs)."""
        stamp = Path(self.path).stat().st_mtime_ns
        if self._loaded is None or self._loaded[0] != stamp:
            self._loaded = (stamp, load_script(self.path))
        return self._loaded[1]

    @property
    def label(self) -> str:
        return f"scripted:{self.path}"

    @property
    def identity(self) -> str:
        """The label and the recording's content: an edited session is another model to a cache."""
        return f"{self.label}#{hashlib.sha256(Path(self.path).read_bytes()).hexdigest()[:16]}"

    def complete(self, key: str, system: str, prompt: str, temperature: float | None,
                 call_index: int, attempt: int, schema: dict | None = None) -> Reply:
        """The recorded answer; a schema is not applied (recorded judges answer in text)."""
        answers = self.answers.get(key)
        if answers is None:
            raise NoRecordedAnswer(f"scripted model {self.path} has no answers for {key!r}")
        if call_index >= len(answers):
            raise NoRecordedAnswer(f"scripted model {self.path} ran out of answers for {key!r}:"
                             f" it has {len(answers)}, the run asked for answer {call_index + 1}")
        answer = answers[call_index]
        if attempt < answer.fail_first:
            raise TransientModelError(f"scripted transient failure {attempt + 1} of {answer.fail_first}")
        if answer.delay_s:
            time.sleep(answer.delay_s)
        return Reply(text=answer.text, tokens_in=len(system + prompt) // 4, tokens_out=len(answer.text) // 4,
                     temperature=temperature, tokens_estimated=True, finish_reason=answer.finish_reason)


def load_script(path: str) -> dict[str, list[ScriptedAnswer]]:
    file = Path(path)
    try:
        data = json.loads(file.read_text())
        responses = data["responses"]
        return {key: _answers(file.parent, entries) for key, entries in responses.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LassiError(f"scripted model file {path} is not a valid session ({exc.__class__.__name__}: {exc})") from None


def _answers(folder: Path, entries: list) -> list[ScriptedAnswer]:
    answers, pending_failures = [], 0
    for entry in entries:
        if isinstance(entry, str):
            entry = {"text": entry}
        if "error" in entry:
            pending_failures += int(entry.get("times", 1))
            continue
        text = entry.get("text", "")
        if "code_file" in entry:
            code_path = folder / entry["code_file"]
            fence = FENCE_TAGS.get(code_path.suffix, "")
            text = f"{text}\n\n```{fence}\n{code_path.read_text()}```\n".lstrip()
        answers.append(ScriptedAnswer(text=text, fail_first=pending_failures, delay_s=float(entry.get("delay_s", 0)),
                                      finish_reason=str(entry.get("finish_reason", "stop"))))
        pending_failures = 0
    return answers
