"""A fake OpenAI-compatible server on 127.0.0.1 for the tests: stdlib only, an ephemeral port, and it stops
itself (after its lifetime or a bounded number of requests) even if a test forgets to.

It answers POST /v1/chat/completions and GET /v1/models, and records every request's path, headers and
body. A test queues what the next requests get (`then`): an answer (with its finish_reason, a
reasoning_content field), an HTTP error (with headers such as Retry-After), or a hang. Without a queued
reply, `respond(body)` decides — by default by the prompt's opening words, one canned answer per role;
`replaying(session, form)` answers as a recorded session does, each coder answer as a whole file or edits.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.helpers.programs import VALID

PROGRAM = re.compile(r'<program(?:-to-refactor)? file="([^"]+)">\n(.*?)\n</program', re.S)
ROLE_BY_OPENING = {"Rewrite the": "coder", "Apply one step": "coder", "The ": "coder", "Your last answer": "coder",
                   "Decide whether": "judge", "Write a refactoring plan": "planner", "Read the background": "summarizer",
                   "Below is": "summarizer", "Two versions": "reporter"}
SUMMARY_TASK = {"Below is background": "knowledge", "Below is what the machine": "system", "Read the background": "code"}
WHOLE_FILE = "whole file"
# The C++ examples' arguments and check arguments for a replayed session, small enough for a loaded 2-core machine.
# heat2d's plate is wider than the caches, so that its recorded steps (sweeps in storage order, buffers swapped
# rather than copied: 3-6x faster on one thread at 1000 x 1000) stand clear of a run's start-up; at 300 x 300 the
# whole solve takes 15 ms and a saving of 5 ms drowns in it.
SMALL_SIZES = {"heat2d": (["1000", "10"], ["64 5"]), "plume3d": (["128", "96", "32", "30"], ["24 20 12 8"])}


def replay_inputs(name: str) -> dict:
    """What `optimize` is given for a replayed example beside its settings: its small size, its check size,
    on which callgrind counts the work too, and no witness (the recorded sessions hold none, and a witness
    request would take the replay's first coder answer)."""
    args, check_args = SMALL_SIZES[name]
    return {"args": args, "check_args": check_args, "work_args": check_args[0], "witness": "off"}


def role_of(body: dict) -> str:
    """Which role a request comes from, by the opening words of its prompt (the templates' own)."""
    prompt = body["messages"][-1]["content"]
    return next((role for opening, role in ROLE_BY_OPENING.items() if prompt.startswith(opening)), "unknown")


def program_in(body: dict) -> tuple[str, str]:
    """(file name, code) of the program a coder prompt shows."""
    found = PROGRAM.findall(body["messages"][-1]["content"])
    return found[-1][0], found[-1][1].rstrip("\n") + "\n"


def tokens(text: str) -> int:
    """A tokenizer's rough count, offline: words, numbers and each symbol apart."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def completion(text: str, finish_reason: str = "stop", reasoning: str | None = None, model: str = "m") -> dict:
    message = {"role": "assistant", "content": text, **({"reasoning_content": reasoning} if reasoning else {})}
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 11, "completion_tokens": tokens(text), "total_tokens": 11 + tokens(text)}}


def error(status: int, message: str, headers: dict | None = None) -> "Reply":
    return Reply(status, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                    "code": None}}, headers or {})


@dataclass
class Reply:
    status: int = 200
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    hang_s: float = 0.0  # wait this long before answering (a hung server, to the client's timeout)


def answer(text: str, **kwargs) -> Reply:
    return Reply(200, completion(text, **kwargs))


def hang(seconds: float) -> Reply:
    return Reply(200, completion("too late"), hang_s=seconds)


def canned(body: dict) -> str:
    """A plausible answer per role; the coder echoes the program it was shown, unchanged."""
    role = role_of(body)
    if role == "coder":
        name, code = program_in(body)
        return f"No change needed.\n\n{name}\n```cpp\n{code}```\n"
    return {"judge": VALID, "planner": "1. Keep the loop.", "summarizer": "a summary",
            "reporter": "a comparison"}.get(role, "an answer")


class FakeServer:
    """Serves until `stop()`, `lifetime_s` seconds, or `max_requests` requests, whichever comes first."""

    def __init__(self, respond: Callable[[dict], "str | Reply"] = canned, models: tuple[str, ...] | None = ("local-coder",),
                 lifetime_s: float = 300.0, max_requests: int = 500):
        self.respond, self.models, self.max_requests = respond, models, max_requests
        self.requests: list[dict] = []  # {"path", "headers", "body", "at"}
        self.queue: list[Reply] = []
        self.stopped = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server._record(self, None)
                if server.models is None or not self.path.endswith("/models"):
                    return self._send(error(404, "not found"))
                self._send(Reply(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]}))

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server._record(self, body)
                said = server.queue.pop(0) if server.queue else server.respond(body)
                reply = said if isinstance(said, Reply) else Reply(200, completion(said))
                if reply.hang_s:
                    server.stopped.wait(reply.hang_s)
                if body.get("stream") and reply.status == 200:
                    return self._stream(reply.body, (body.get("stream_options") or {}).get("include_usage"))
                self._send(reply)

            def _stream(self, done: dict, with_usage: bool):
                """The answer as server-sent events, as a streaming client (Studio) receives it."""
                choice = done["choices"][0]
                chunk = {"id": done["id"], "object": "chat.completion.chunk", "created": 0, "model": done["model"]}
                events = [{**chunk, "choices": [{"index": 0, "delta": choice["message"], "finish_reason": None}]},
                          {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}]
                if with_usage:
                    events.append({**chunk, "choices": [], "usage": done["usage"]})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for event in events:
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def _send(self, reply: Reply):
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting (a hang past its timeout)
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.timer = threading.Timer(lifetime_s, self.stop)
        self.timer.daemon = True
        self.timer.start()

    def then(self, *replies: Reply) -> "FakeServer":
        self.queue.extend(replies)
        return self

    def _record(self, handler, body: dict | None) -> None:
        self.requests.append({"path": handler.path, "headers": {k.lower(): v for k, v in handler.headers.items()}, "body": body,
                              "at": time.monotonic()})
        if len(self.requests) >= self.max_requests:
            threading.Thread(target=self.stop, daemon=True).start()

    @property
    def chats(self) -> list[dict]:
        """The bodies of the chat requests, in order."""
        return [r["body"] for r in self.requests if r["body"] is not None]

    def stop(self) -> None:
        if not self.stopped.is_set():
            self.stopped.set()
            self.httpd.shutdown()
            self.httpd.server_close()
            self.timer.cancel()


def as_edits(old: str, new: str, name: str, form: str) -> str:
    """The change from `old` to `new` as an answer in `form`: a unified diff or SEARCH/REPLACE blocks."""
    a, b = old.splitlines(), new.splitlines()
    if form == "unified diff":
        diff = "\n".join(difflib.unified_diff(a, b, f"a/{name}", f"b/{name}", lineterm="", n=2))
        return f"The change:\n\n```diff\n{diff}\n```\n"
    blocks, end = [], 0
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(1):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        while not ("\n".join(a[i1:i2]).strip() and old.count("\n".join(a[i1:i2]) + "\n") == 1):
            grow_up, grow_down = i1 > end, i2 < len(a)  # context lines, the same in both versions
            if not (grow_up or grow_down):
                break
            i1, j1 = (i1 - 1, j1 - 1) if grow_up else (i1, j1)
            i2, j2 = (i2 + 1, j2 + 1) if grow_down else (i2, j2)
        search, replace = "\n".join(a[i1:i2]), "\n".join(b[j1:j2])
        blocks.append(f"{name}\n```cpp\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```")
        end = i2
    return "The changes:\n\n" + "\n\n".join(blocks) + "\n"


def replaying(session: Path, form: str, figures: list[dict] | None = None) -> Callable[[dict], str]:
    """A responder replaying a recorded session (examples/sessions/) role by role. Each coder answer is
    given in `form`: the whole file it records, or the change from the code the prompt shows to that
    file, as a unified diff or SEARCH/REPLACE blocks. `figures` gets, per coder answer, the lines of the
    code shown and the output tokens of the answer in `form` and as the whole file."""
    responses = {key: list(items) for key, items in json.loads(session.read_text())["responses"].items()}

    def respond(body: dict) -> str:
        role, prompt = role_of(body), body["messages"][-1]["content"]
        if role == "summarizer":
            role += "/" + next(task for opening, task in SUMMARY_TASK.items() if prompt.startswith(opening))
        entry = responses[role].pop(0)
        entry = {"text": entry} if isinstance(entry, str) else entry
        if "code_file" not in entry:
            return entry["text"]
        name, code = program_in(body)
        target = (session.parent / entry["code_file"]).read_text()
        whole = f"{entry['text']}\n\n{name}\n```cpp\n{target}```\n"
        given = whole if form == WHOLE_FILE else f"{entry['text']}\n\n{as_edits(code, target, name, form)}"
        if figures is not None:
            figures.append({"lines": len(code.splitlines()), "answer": tokens(given), "whole": tokens(whole)})
        return given

    return respond
