"""Wall time of the scripted heat2d suite, two trials, run one after another and side by side with one
core each (`--cpus-per-trial 1`), and the threads each trial's measured runs had.

    python -m benchmarks.parallel_suite [FOLDER]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "examples" / "suites" / "heat2d-scripted.toml"


def two_trial_heat2d_suite(folder: Path, more: str = "") -> Path:
    """The scripted heat2d suite with one trial per program (two in all), its paths made absolute so it
    runs from any folder; `more` is appended (a [slurm] table)."""
    text = SUITE.read_text().replace("trials = 2", "trials = 1")
    text = text.replace('"scripted:../', f'"scripted:{SUITE.parent.parent}/').replace('"../', f'"{SUITE.parent.parent}/')
    path = folder / "heat2d-two-trials.toml"
    path.write_text(text + more)
    return path


def threads_measured(out: Path) -> dict[str, set[str]]:
    """Per trial, the OpenMP thread counts its candidates' runs printed."""
    return {str(trial.relative_to(out)): {m for stdout in trial.glob("candidates/*/stdout*")
                                          for m in re.findall(r"\((\d+) threads\)", stdout.read_text())}
            for trial in sorted(out.glob("*/trial-*"))}


def timed(suite: Path, out: Path, *options: str) -> float:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "app.cli", "bench", str(suite), "--out", str(out), *options],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the bench failed: {done.stderr.strip()}")
    return time.monotonic() - start


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="parallel-suite-"))
    folder.mkdir(parents=True, exist_ok=True)
    suite = two_trial_heat2d_suite(folder)
    serial = timed(suite, folder / "serial")
    side_by_side = timed(suite, folder / "side-by-side", "--cpus-per-trial", "1")
    print(f"one after another: {serial:.1f} s   threads per trial: {threads_measured(folder / 'serial')}")
    print(f"side by side:      {side_by_side:.1f} s   threads per trial: {threads_measured(folder / 'side-by-side')}")
    print(f"side by side took {side_by_side / serial:.0%} of the serial wall time")


if __name__ == "__main__":
    main()
