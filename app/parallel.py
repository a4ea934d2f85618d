"""A suite's trials side by side on this machine: each in a worker process of its own, on a free slot
(a GPU, or a set of cores) that no other running trial has, its output passed on line by line under
the trial's name.

    python -m app.parallel SUITE OUT PROGRAM NUMBER [--gpu UUID] [--cores 0,1]    runs one trial
"""

from __future__ import annotations

import argparse
import os
import selectors
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from app.slots import Slot, parse_cores
from app.suite import Suite, SuiteProgram
from tools.errors import Interrupted, LassiError

Waiting = tuple[SuiteProgram, int, list[Slot]]  # a trial and the slots it may take


def run_side_by_side(suite: Suite, out: Path, waiting: list[Waiting], say: Callable[[str], None]) -> None:
    """Run the trials, as many at once as there are free slots each may take, until all have ended."""
    pending = list(waiting)
    busy: set[Slot] = set()
    workers: dict[subprocess.Popen, tuple[str, Slot]] = {}
    watch = selectors.DefaultSelector()
    try:
        while pending or workers:
            for trial in list(pending):
                program, number, choices = trial
                slot = next((s for s in choices if s not in busy), None)
                if slot is None:
                    continue
                pending.remove(trial)
                busy.add(slot)
                worker = subprocess.Popen(
                    [sys.executable, "-m", "app.parallel", str(suite.path), str(out), program.name, str(number),
                     *slot.to_args()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
                workers[worker] = (f"[{program.name} {number}]", slot)
                watch.register(worker.stdout, selectors.EVENT_READ, worker)
            for key, _ in watch.select():
                worker = key.data
                name, slot = workers[worker]
                line = worker.stdout.readline()
                if line:
                    say(f"{name} {line.rstrip()}")
                    continue
                watch.unregister(worker.stdout)
                if worker.wait() not in (0, 130):
                    say(f"{name} its worker ended with exit status {worker.returncode}")
                del workers[worker]
                busy.discard(slot)
    except KeyboardInterrupt:
        for worker in workers:  # they were interrupted too, and save their trials
            worker.wait()
        raise Interrupted(f"interrupted; the suite is saved: continue it with `lassi-ee bench {suite.path}"
                          f" --out {out}`") from None


def main(argv: list[str] | None = None) -> int:
    """One trial in a worker: its slot pinned and locked, its steps printed as plain lines."""
    from app.bench import run_trial
    from app.progress import Progress
    from app.suite import spell

    parser = argparse.ArgumentParser(prog="python -m app.parallel")
    parser.add_argument("suite")
    parser.add_argument("out")
    parser.add_argument("program")
    parser.add_argument("number", type=int)
    parser.add_argument("--gpu")
    parser.add_argument("--cores", type=parse_cores, default=())
    args = parser.parse_args(argv)
    try:
        run_trial(args.suite, args.out, args.program, args.number, Slot(gpu=args.gpu, cores=args.cores),
                  say=lambda line: print(line, flush=True), progress=lambda: Progress(sys.stdout))
    except (Interrupted, KeyboardInterrupt):
        return 130
    except LassiError as exc:
        print(f"lassi-ee: error: {exc.spelled(spell)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
