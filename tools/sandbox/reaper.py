"""The first process of every contained run, outside any sandbox: it starts the program, then reaps
it and whatever it left, so that the kernel's count of their CPU time reaches the tool.

The tool starts it as `python -I -S reaper.py FD all|ended -- ARGV...` (the standard library only,
nothing of the tool's). It is a child subreaper (PR_SET_CHILD_SUBREAPER): a process orphaned below
it becomes its child, and a reaped process's CPU time is added to its reaper's. Bubblewrap's monitor
exits on its namespace init's word without reaping the init, which reaped the program: the init,
orphaned, comes here and is reaped with the program's time in it. Once the program has ended it
reaps, under bubblewrap (`all`), until no child is left (the namespace dies with its monitor, so
that is soon); otherwise (`ended`) only the processes already ended, the rest being the tool's to
find and kill. Its exit status is the program's.

Before it starts the program it writes its own CPU time so far (its start-up) to FD, for the tool to
subtract, and closes FD: the program does not exist yet, so it cannot shape that figure, and nothing
else ever comes over FD. The tool takes the CPU time itself from the kernel: as it reaps this process,
or from the run's cgroup where one counts CPU time (tools/sandbox/containment.py).
"""

import ctypes
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
# Python ignores these at start-up (subprocess restores them for its children; a fork and exec must too):
# a program past its file-size limit must die of SIGXFSZ, one writing to a closed pipe of SIGPIPE.
IGNORED_BY_PYTHON = ("SIGPIPE", "SIGXFSZ", "SIGXFZ")


def main() -> None:
    told, reap_all, argv = int(sys.argv[1]), sys.argv[2] == "all", sys.argv[4:]
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    used = resource.getrusage(resource.RUSAGE_SELF)
    os.write(told, f"{used.ru_utime + used.ru_stime:.6f}\n".encode())
    os.close(told)
    program = os.fork()
    if program == 0:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # no program outlives its reaper
        for name in IGNORED_BY_PYTHON:  # an ignored signal stays ignored across exec: give the program the default
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"{argv[0]}: {exc.strerror}\n".encode())
        os._exit(127)
    _, status = os.waitpid(program, 0)
    while True:
        try:
            if os.waitpid(-1, 0 if reap_all else os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    if os.WIFSIGNALED(status):  # ended the way the program ended
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL has no handler to reset
            pass
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
