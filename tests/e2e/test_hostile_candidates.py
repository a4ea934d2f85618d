"""Whole runs with hostile candidates: each is stopped by its cap or walled in, and the report says why."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest

from app.api import optimize
from tests.helpers.programs import VALID, answer, sleeper
from tools.sandbox.isolation import bwrap_problem

MiB = 1024 * 1024


# Hostile C++ candidates; each is bounded by construction, like the hostile programs of the sandbox tests.
ATTACKS = {
    "fork-bomb": "for (int i = 0; i < 200; ++i) if (fork() == 0) { sleep(20); _exit(0); }\n    sleep(20);",
    "huge-file": ("static char block[1 << 20];\n    FILE* f = std::fopen(\"big.bin\", \"wb\");\n"
                  "    for (int i = 0; i < 64; ++i) std::fwrite(block, 1, sizeof block, f);\n    std::fclose(f);"),
    "memory": ("for (int i = 0; i < 40; ++i) { char* p = (char*)std::malloc(16 << 20); std::memset(p, 1, 16 << 20);"
               " usleep(50000); }\n    sleep(20);"),
    "spin": "for (volatile long i = 0;; ++i) {}",
    "delete": 'if (std::remove("VICTIM") != 0) { std::perror("remove"); return 3; }',
    "socket": ("int fd = socket(AF_INET, SOCK_STREAM, 0);\n    sockaddr_in a{};\n    a.sin_family = AF_INET;\n"
               "    a.sin_port = htons(PORT);\n    inet_pton(AF_INET, \"127.0.0.1\", &a.sin_addr);\n"
               "    if (connect(fd, (sockaddr*)&a, sizeof a) != 0) { std::perror(\"connect\"); return 4; }"),
}
HEADERS = "#include <arpa/inet.h>\n#include <cstring>\n#include <netinet/in.h>\n#include <sys/socket.h>\n#include <unistd.h>\n"
WHY = {"fork-bomb": "more than 40 processes and threads", "huge-file": "file-size limit",
       "memory": "used more than 256 MiB of memory", "spin": "ran past its time limit of 3 s",
       "delete": "remove: Read-only file system", "socket": "connect: Connection refused"}


def hostile(attack: str, **values) -> str:
    code = ATTACKS[attack]
    for name, value in values.items():
        code = code.replace(name, str(value))
    return HEADERS + sleeper(40).replace("    long s = sum_to(n);", f"    {code}\n    long s = sum_to(n);")


@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_a_run_survives_hostile_candidates_and_the_report_says_why_each_failed(mode, program, session, settings,
                                                                             tmp_path):
    if mode == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    attacks = ["fork-bomb", "huge-file", "memory", "spin"] + (["delete", "socket"] if mode == "bwrap" else [])
    with tempfile.TemporaryDirectory(dir=Path.home()) as outside, socket.socket() as listener:
        victim = Path(outside) / "keep.txt"
        victim.write_text("precious")
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        values = {"VICTIM": victim, "PORT": listener.getsockname()[1]}
        model = session({"coder": [answer(hostile(a, **values)) for a in attacks] + [answer(sleeper(40)),
                                                                                      answer(sleeper(320))],
                         "judge": [VALID] * 2, "planner": ["plan"], "reporter": ["comparison"]})
        result = optimize(program, ["100"], **settings(model, sandbox=mode, max_iterations=1,
                                                        max_corrections=len(attacks), time_limit=3,
                                                        max_processes=40, max_memory_mb=256, max_file_mb=8))
        assert victim.read_text() == "precious"
        with pytest.raises(socket.timeout):
            listener.accept()
    failed = result.candidates[1:len(attacks) + 1]
    assert [c["status"] for c in failed] == ["run_failed"] * len(attacks)
    for attack, cand in zip(attacks, failed):
        assert WHY[attack] in cand["reason"], (attack, cand["reason"])
    assert result.finished and result.best["version"] == len(attacks) + 1
    assert (Path(failed[attacks.index("huge-file")]["dir"]) / "work" / "big.bin").stat().st_size <= 8 * MiB
    report = result.report_path.read_text()
    contained = "bubblewrap: no network" if mode == "bwrap" else "resource limits only, no filesystem or network isolation"
    assert f"Builds and runs were contained by {contained}" in report
    for attack in attacks:
        assert WHY[attack] in report
