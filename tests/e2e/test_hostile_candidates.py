"""Whole runs with hostile candidates: each is stopped by its cap, walled in or put back, and the report says why.

Each run ends with the checks of tests/helpers/hostile.py: nothing outside the workspaces changed, no
secret in the run directory, the run went on to a best that is not the source.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest

from app.api import optimize
from tests.helpers.hostile import assert_nothing_outside_changed, digest
from tests.helpers.programs import VALID, answer, sleeper
from tools.sandbox.containment import candidate_max_tasks, task_cap_holder
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
KEY = "sk-hostile-caps-0123456789abcdef"  # in the environment, never passed to programs
WHY = {"fork-bomb": "more than 40 processes and threads", "huge-file": "file-size limit",
       "memory": "used more than 256 MiB of memory", "spin": "ran past its time limit of 3 s",
       "delete": "remove: No such file or directory", "socket": "connect: Connection refused",
       # without bubblewrap it deletes the reference output, which is put back
       "delete without bubblewrap": "it changed files outside its workspace, put back as they were: in the run"
                                    " directory candidates/v000-source/stdout.txt (removed)"}
RAISED_BY = {"fork-bomb": "max-processes", "huge-file": "max-file-mb", "memory": "max-memory-mb", "spin": "time-limit"}


def hostile(attack: str, **values) -> str:
    code = ATTACKS[attack]
    for name, value in values.items():
        code = code.replace(name, str(value))
    return HEADERS + sleeper(40).replace("    long s = sum_to(n);", f"    {code}\n    long s = sum_to(n);")


@pytest.fixture(params=["bwrap", "none"])
def mode(request, monkeypatch) -> str:
    if request.param == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return request.param


def test_a_run_survives_hostile_candidates_and_the_report_says_why_each_failed(mode, program, session, settings,
                                                                             tmp_path):
    attacks = ["fork-bomb", "huge-file", "memory", "spin", "delete"] + (["socket"] if mode == "bwrap" else [])
    run_dir = tmp_path / "run"
    reference = run_dir / "candidates" / "v000-source" / "stdout.txt"
    why = {**WHY, "delete": WHY["delete" if mode == "bwrap" else "delete without bubblewrap"]}
    with tempfile.TemporaryDirectory(dir=Path.home()) as outside, socket.socket() as listener:
        victim = Path(outside) / "keep.txt"
        victim.write_text("precious")
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        values = {"VICTIM": victim if mode == "bwrap" else reference, "PORT": listener.getsockname()[1]}
        model = session({"coder": [answer(hostile(a, **values)) for a in attacks] + [answer(sleeper(40)),
                                                                                      answer(sleeper(320))],
                         "judge": [VALID] * 2, "planner": ["plan"], "reporter": ["comparison"]})
        before = digest(program)
        result = optimize(program, ["100"], **settings(model, sandbox=mode, max_iterations=1, run_dir=run_dir,
                                                        max_corrections=len(attacks), time_limit=3,
                                                        max_processes=40, max_memory_mb=256, max_file_mb=8))
        assert_nothing_outside_changed(result, victim.read_text() == "precious", before, digest(program), (KEY,))
        with pytest.raises(socket.timeout):
            listener.accept()
    failed = result.candidates[1:len(attacks) + 1]
    assert [c["status"] for c in failed] == ["run_failed"] * len(attacks)
    for attack, cand in zip(attacks, failed):
        assert why[attack] in cand["reason"], (attack, cand["reason"])
    assert result.finished and result.best["version"] == len(attacks) + 1
    assert (result.run_dir / failed[attacks.index("huge-file")]["dir"] / "work" / "big.bin").stat().st_size <= 8 * MiB
    report = result.report_path.read_text()
    contained = "bubblewrap: no network" if mode == "bwrap" else "resource limits only, no filesystem or network isolation"
    assert f"Builds and runs were contained by {contained}" in report
    for attack in attacks:
        assert why[attack] in report
    for attack, setting in RAISED_BY.items():  # each cap that stopped one names the setting that raises it
        assert f"(the {setting} setting raises it)" in failed[attacks.index(attack)]["reason"]


# Without --max-processes: a fork bomb past the floor (bounded at 3000 children, each gone after 20 s), and an
# honest rewrite that sums on a team of 1024 threads where the source ran one; both print what the source prints.
FORK_BOMB = "for (int i = 0; i < 3000; ++i) if (fork() == 0) { sleep(20); _exit(0); }\n    sleep(20);"
# libgomp keeps the team's threads in its pool once the loop is done: the wait after it keeps all 1024 alive for
# 200 ms, long enough for a watchdog sampling every 50 ms (root without a pids cgroup) to see the whole team.
TEAM_OF_1024 = ("long s = 0;\n    #pragma omp parallel for num_threads(1024) reduction(+:s)\n"
                "    for (long i = 1; i <= n; ++i) s += i;\n"
                "    std::this_thread::sleep_for(std::chrono::milliseconds(200));\n")


def test_the_process_cap_of_candidates_follows_the_source_stopping_a_fork_bomb_and_fitting_an_honest_team(
        mode, program, session, settings, tmp_path):
    bomb = HEADERS + sleeper(40).replace("    long s = sum_to(n);", f"    {FORK_BOMB}\n    long s = sum_to(n);")
    team = sleeper(40).replace("    long s = sum_to(n);\n", f"    {TEAM_OF_1024}")
    model = session({"coder": [answer(bomb), answer(team), answer(sleeper(320))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": ["comparison"]})
    before = digest(program)
    result = optimize(program, ["100"], **settings(model, sandbox=mode, max_iterations=1, max_corrections=1,
                                                    max_repeats=3, time_limit=30))
    # the team's threads take their time to start on a busy machine: whether it beats the source is not asked
    assert_nothing_outside_changed(result, True, before, digest(program), (KEY,), improved=False)
    peak = result.source["run"]["peak_tasks"]
    cap = candidate_max_tasks(peak)
    assert 1 <= peak <= 4 and result.source["run"]["task_cap"]["max_tasks"] == cap  # one thread (and bubblewrap's two)
    stopped, honest = result.candidates[1:3]
    assert stopped["status"] == "run_failed"
    # a cgroup refuses the fork past the cap; as root without one, the watchdog stops the tree it saw past it
    verb = "ran" if task_cap_holder() == "held by a watchdog" else "tried to run"
    assert f"{verb} more than {cap} processes and threads at once" in stopped["reason"]
    assert f"the cap of a candidate's runs, the larger of {cap} and 4 × the {peak} the source ran" in stopped["reason"]
    assert "(the max-processes setting raises it)" in stopped["reason"]
    assert honest["status"] == "judged" and honest["validation"]["valid"]
    assert honest["run"]["peak_tasks"] >= 1024  # it ran its whole team, many more than the source
    report = result.report_path.read_text()
    assert (f"Candidates' runs could have at most {cap} processes and threads at once: the larger of {cap} and 4 × the"
            f" {peak} the source ran at its peak in Stage 0") in report
    assert f"more than {cap} processes and threads" in report
