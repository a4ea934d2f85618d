"""Hostile candidates against the scratch, the environment and the links: what they try, and what they get.

One run per containment (bubblewrap, and limits only where the attack applies): the model's answers
are attacks, each failing so the next comes as its fix, then a valid candidate that plants links and
shapes its scratch, which becomes the best. Each test below looks at one attack in that run and checks
what every attack must leave true: nothing outside the candidate's workspace changed (the user's home,
the program folder, the run directory, the reference output), no secret in any file of the run
directory, the run went on to its report, and the report says why the candidate failed. Without
bubblewrap the write-outside attack goes for the run directory's own files instead of the home (which
only bubblewrap keeps out of reach): what it changed there is put back after its run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from app.api import optimize, report, resume
from tests.helpers import FIXTURES
from tests.helpers.hostile import assert_nothing_outside_changed as nothing_outside_changed
from tests.helpers.hostile import digest
from tests.helpers.programs import SUMMARIES, VALID, answer, sleeper
from tools.sandbox.isolation import bwrap_problem

KEY = "sk-hostile-test-0123456789abcdef"  # in the environment, never passed to programs
PASSED = "tok-passed-test-9876543210"  # passed on purpose (pass_env), and masked wherever it is printed
HEADERS = ("#include <cerrno>\n#include <cstring>\n#include <fcntl.h>\n#include <string>\n#include <sys/socket.h>\n"
           "#include <sys/stat.h>\n#include <sys/un.h>\n#include <unistd.h>\n")
ATTACKS = {
    "secrets": ('std::fprintf(stderr, "key=%s passed=%s\\n", std::getenv("OPENAI_API_KEY"),'
                ' std::getenv("LASSI_PASSED_TOKEN"));\n    return 7;'),
    # TARGETS and REMOVED are the files it goes for: the reference output, the program folder, the run
    # directory's own files, and the user's home where the containment can keep it out (bubblewrap only)
    "write-outside": ('const char* targets[] = {TARGETS};\n'
                      '    for (const char* t : targets) { FILE* f = std::fopen(t, "w");'
                      ' std::printf("%s: %s\\n", t, f ? "written" : std::strerror(errno)); if (f) std::fclose(f); }\n'
                      '    if (std::remove("REMOVED") != 0) std::perror("remove");\n    return 3;'),
    "socket": ('int fd = socket(AF_UNIX, SOCK_STREAM, 0);\n    sockaddr_un a{};\n    a.sun_family = AF_UNIX;\n'
               '    std::strcpy(a.sun_path, "SOCKET");\n'
               '    if (connect(fd, (sockaddr*)&a, sizeof a) != 0) { std::perror("connect"); return 4; }\n'
               '    std::puts("connected");\n    return 0;'),
    "flood": 'static char line[4096];\n    std::memset(line, \'x\', sizeof line);\n    for (int i = 0; i < 600; ++i) std::fwrite(line, 1, sizeof line, stdout);',
    "daemon": ('if (fork() == 0) { setsid(); if (fork() == 0) { execlp("sleep", "sleep", "30", (char*)0); _exit(1); } _exit(0); }\n'
               '    usleep(300000);\n    return 6;'),
    # The valid one: it makes its private temporary folder a link to the reference output's folder (so a
    # later run that reused it would write there), forges the reference through it, writes "home",
    # and leaves links to /etc and to nothing in its workspace for the copy into best/.
    "shaper": ('struct stat st;\n    if (lstat(".tmp", &st) != 0 || !S_ISLNK(st.st_mode)) { rmdir(".tmp"); symlink("REF_DIR", ".tmp"); }\n'
               '    if (const char* t = std::getenv("TMPDIR")) { std::string p = std::string(t) + "/stdout.txt";'
               ' if (FILE* f = std::fopen(p.c_str(), "w")) { std::fputs("sum = 0\\nforged\\n", f); std::fclose(f); } }\n'
               '    if (const char* h = std::getenv("HOME")) { std::string p = std::string(h) + "/.lassi-hostile-home";'
               ' if (FILE* f = std::fopen(p.c_str(), "w")) std::fclose(f); }\n'
               '    symlink("/etc", "loot");\n    symlink("/nonexistent/lassi-hostile", "dangling");'),
}
BWRAP_ONLY = ("socket",)  # without bubblewrap a program may connect where its user may
WHY = {"secrets": "it exited with code 7: key=(null) passed=[LASSI_PASSED_TOKEN masked]",
       "write-outside": "it exited with code 3: remove: No such file or directory",
       "write-outside without bubblewrap": "it changed files outside its workspace, put back as they were: in the run"
                                           " directory candidates/v000-source/stdout.txt (changed), checkpoints.sqlite"
                                           " (changed), run.json (changed), candidates/v000-source/main.cpp (removed),"
                                           " planted.txt (added); in the program folder main.cpp (changed) (with the"
                                           " sandbox setting bwrap a program cannot reach them)",
       "socket": "it exited with code 4: connect: No such file or directory",
       "flood": "it printed more output than is kept, so its output cannot be compared in full (the max-output-mb"
                " setting raises it)",
       "daemon": "it exited with code 6"}


def targets(mode: str, values: dict) -> dict:
    """What write-outside goes for: without bubblewrap, the run directory's own files in place of the home."""
    if mode == "bwrap":
        aimed, removed = ["REF", "PROGRAM/main.cpp", "RUN/planted.txt", "HOME_MARK/planted.txt"], "HOME_MARK/keep.txt"
    else:
        aimed, removed = ["REF", "PROGRAM/main.cpp", "RUN/planted.txt", "RUN/run.json", "RUN/checkpoints.sqlite"], \
            "REF_DIR/main.cpp"
    return {"TARGETS": ", ".join(f'"{t}"' for t in aimed), "REMOVED": removed, **values}


def attack(name: str, wait_ms: int, **values) -> str:
    code = ATTACKS[name]
    for placeholder, value in values.items():
        code = code.replace(placeholder, str(value))
    return HEADERS + sleeper(wait_ms).replace("    long s = sum_to(n);", f"    {code}\n    long s = sum_to(n);")


@pytest.fixture(scope="module", params=["bwrap", "none"])
def hostile_run(request):
    """The whole run under one containment, with everything the tests compare afterwards.

    Its folders are in the user's home, not in /tmp, which the sandbox replaces by a memory folder.
    """
    mode = request.param
    if mode == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    with tempfile.TemporaryDirectory(dir=Path.home(), prefix=".lassi-hostile-") as folder:
        yield run_attacks(mode, Path(folder))


def run_attacks(mode: str, base: Path) -> dict:
    names = [n for n in ATTACKS if n != "shaper" and (mode == "bwrap" or n not in BWRAP_ONLY)]
    program = base / "sleeper"
    program.mkdir()
    for f in (FIXTURES / "sleeper").iterdir():
        (program / f.name).write_bytes(f.read_bytes())
    run_dir = base / "run"
    ref_dir = run_dir / "candidates" / "v000-source"
    with (tempfile.TemporaryDirectory(dir=Path.home()) as home_mark,
          tempfile.TemporaryDirectory(dir="/var/tmp") as sockets, socket.socket(socket.AF_UNIX) as listener,
          pytest.MonkeyPatch.context() as env):
        (Path(home_mark) / "keep.txt").write_text("precious")
        listener.bind(str(Path(sockets) / "host.sock"))
        listener.listen()
        listener.settimeout(0.2)
        env.setenv("OPENAI_API_KEY", KEY)
        env.setenv("LASSI_PASSED_TOKEN", PASSED)
        env.setenv("XDG_CACHE_HOME", str(base / "xdg-cache"))
        values = {"REF_DIR": ref_dir, "REF": ref_dir / "stdout.txt", "PROGRAM": program, "RUN": run_dir,
                  "HOME_MARK": home_mark, "SOCKET": Path(sockets) / "host.sock"}
        before = digest(program)
        coder = [answer(attack(n, 40, **targets(mode, values))) for n in names] + [answer(attack("shaper", 40, **values)),
                                                                   answer(sleeper(320))]
        session = base / "session.json"
        session.write_text(json.dumps({"about": "hostile", "responses": {
            **SUMMARIES, "coder": coder, "judge": [VALID] * 2, "planner": ["plan"], "reporter": ["comparison"]}}))
        result = optimize(program, ["100"], model=f"scripted:{session}", run_dir=run_dir, sandbox=mode,
                          max_iterations=1, max_corrections=len(names), max_repeats=3, llm_backoff_s=0.0,
                          cache_dir=str(base / "cache"), time_limit=10, pass_env=["LASSI_PASSED_TOKEN"], max_output_mb=1,
                          runs_root=str(base / "runs"))
        home_intact = sorted(os.listdir(home_mark)) == ["keep.txt"] and (Path(home_mark) / "keep.txt").read_text() == "precious"
        try:
            listener.accept()
            connected = True
        except TimeoutError:
            connected = False
    cands = {n: result.candidates[i + 1] for i, n in enumerate(names)}
    cands["shaper"] = result.candidates[len(names) + 1]
    return {"mode": mode, "result": result, "run_dir": run_dir, "program": program, "program_before": before,
           "program_after": digest(program), "home_intact": home_intact, "connected": connected,
           "candidates": cands, "report": result.report_path.read_text()}


def for_attack(run: dict, name: str) -> dict:
    if name in BWRAP_ONLY and run["mode"] != "bwrap":
        pytest.skip("without bubblewrap a program may write and connect wherever its user may")
    return run["candidates"][name]


def assert_nothing_outside_changed(run: dict) -> None:
    """The user's home marker, the program folder, the run directory's own files and the reference output."""
    nothing_outside_changed(run["result"], run["home_intact"], run["program_before"], run["program_after"], (KEY, PASSED))


def test_a_secret_in_the_environment_never_reaches_a_program_and_a_passed_one_is_masked(hostile_run):
    cand = for_attack(hostile_run, "secrets")
    assert_nothing_outside_changed(hostile_run)
    assert WHY["secrets"] in cand["reason"] and WHY["secrets"] in hostile_run["report"]
    prompts = (hostile_run["run_dir"] / "llm.jsonl").read_text()
    assert "[LASSI_PASSED_TOKEN masked]" in prompts  # the fix prompt quoted the masked output


def test_with_bubblewrap_a_program_sees_nothing_of_the_home_the_program_folder_or_the_run_directory(hostile_run):
    if hostile_run["mode"] != "bwrap":
        pytest.skip("without bubblewrap a program may write where its user may: the next test")
    cand = for_attack(hostile_run, "write-outside")
    assert_nothing_outside_changed(hostile_run)
    said = (hostile_run["run_dir"] / cand["run"]["stdout_path"]).read_text()
    lines = said.splitlines()[:4]
    assert len(lines) == 4 and all(line.endswith(("No such file or directory", "Read-only file system")) for line in lines)
    assert WHY["write-outside"] in cand["reason"] and WHY["write-outside"] in hostile_run["report"]


def test_without_bubblewrap_what_a_program_changed_in_the_run_directory_or_program_folder_is_put_back(hostile_run):
    """It forges the reference output, empties run.json and the checkpoints, removes the source's code, plants a
    file and empties the program's main source; all of it is put back, it is rejected, and the run goes on."""
    if hostile_run["mode"] != "none":
        pytest.skip("under bubblewrap it sees none of them: the test above")
    cand = for_attack(hostile_run, "write-outside")
    assert_nothing_outside_changed(hostile_run)
    said = (hostile_run["run_dir"] / cand["run"]["stdout_path"]).read_text()
    assert said.count(": written\n") == 5  # every target was in its reach
    assert cand["status"] == "run_failed" and WHY["write-outside without bubblewrap"] in cand["reason"]
    assert WHY["write-outside without bubblewrap"][:290] in hostile_run["report"]
    assert (hostile_run["run_dir"] / "candidates" / "v000-source" / "main.cpp").is_file()
    assert resume(hostile_run["run_dir"]).finished  # the checkpoints and run.json it emptied work as before


def test_with_bubblewrap_a_unix_socket_of_the_host_cannot_be_reached(hostile_run):
    cand = for_attack(hostile_run, "socket")
    assert_nothing_outside_changed(hostile_run)
    assert not hostile_run["connected"]
    assert WHY["socket"] in cand["reason"] and WHY["socket"] in hostile_run["report"]


def test_an_output_flood_fails_naming_the_cap_and_the_setting_that_raises_it(hostile_run):
    cand = for_attack(hostile_run, "flood")
    assert_nothing_outside_changed(hostile_run)
    assert cand["status"] == "run_failed" and WHY["flood"] in cand["reason"] and WHY["flood"] in hostile_run["report"]


def test_a_daemon_left_behind_is_found_killed_and_reported(hostile_run):
    cand = for_attack(hostile_run, "daemon")
    assert_nothing_outside_changed(hostile_run)
    assert WHY["daemon"] in cand["reason"] and not sleepers_of(hostile_run["run_dir"])
    if hostile_run["mode"] == "none":  # under bubblewrap it dies with the program's namespace
        assert cand["run"]["left_running"] == 1
        assert f"found and killed: v{cand['version']:03d} (1)" in hostile_run["report"]


def sleepers_of(run_dir: Path) -> list[int]:
    """`sleep 30` processes started in a workspace of this run (their working folder is in it)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == b"sleep\x0030\x00" and \
                    Path(os.readlink(entry / "cwd")).is_relative_to(run_dir):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_link_planted_where_the_private_temporary_folder_was_leads_nowhere(hostile_run):
    cand = hostile_run["candidates"]["shaper"]
    assert_nothing_outside_changed(hostile_run)
    assert cand["validation"]["valid"] and cand["measurement"]["repeats"] >= 2  # it ran again after planting
    assert (hostile_run["run_dir"] / cand["dir"] / "work" / ".tmp").is_symlink()  # planted, and never bound, followed or removed


def test_links_the_best_candidate_planted_are_not_copied_into_best(hostile_run):
    result, run_dir = hostile_run["result"], hostile_run["run_dir"]
    assert_nothing_outside_changed(hostile_run)
    assert result.best["key"] == hostile_run["candidates"]["shaper"]["key"]
    best = run_dir / "best"
    assert (best / "main.cpp").is_file() and (best / "work.h").is_file()
    assert not any(p.is_symlink() and not p.resolve().is_relative_to(best) for p in best.rglob("*"))
    assert not any(p.name in ("passwd", "shadow", "hostname") for p in run_dir.rglob("*"))


def test_a_dangling_link_in_the_best_candidate_breaks_no_report_rebuild(hostile_run):
    assert (hostile_run["run_dir"] / hostile_run["result"].best["dir"] / "work" / "dangling").is_symlink()
    assert report(hostile_run["run_dir"]).read_text() == hostile_run["report"]


def test_a_program_folder_with_a_link_to_outside_is_refused_before_anything_in_one_line(tmp_path):
    program = tmp_path / "sleeper"
    program.mkdir()
    for f in (FIXTURES / "sleeper").iterdir():
        (program / f.name).write_bytes(f.read_bytes())
    (program / "input.txt").symlink_to("/etc/hostname")
    done = subprocess.run([sys.executable, "-m", "app.cli", "optimize", str(program), "--model", "scripted:none.json",
                           "--runs-root", str(tmp_path / "runs")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1
    assert "input.txt is a link to /etc/hostname, outside the program folder" in done.stderr
    assert "--follow-links" in done.stderr and not (tmp_path / "runs").exists()
