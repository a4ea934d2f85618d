"""What every hostile-candidate test checks once the run is over, whatever the attack was.

Nothing outside the candidates' workspaces changed: the user's home (a marker the test planted), the
program folder, the run directory's own records (every candidate's code against its hash, run.json,
nothing planted) and the reference output; no secret in any file of the run directory; the run went
on to its report (with a best that is not the source, where the test's waits decide that).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from graph.state import read_files
from tools.llm.files import listing
from tools.program import sha256_text

PLANTED = ("planted.txt", "loot")  # what the attacks leave outside their workspaces, were they let


def digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` (links not followed) by its sha256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def assert_nothing_outside_changed(result, home_intact: bool, program_before: dict, program_after: dict,
                                   secrets: tuple[str, ...] = (), improved: bool = True) -> None:
    """`improved`: a candidate became the best (where the run's timings are made to decide that)."""
    run_dir = result.run_dir
    assert home_intact, "the home marker changed"
    assert program_after == program_before, "the program folder changed"
    assert not any((run_dir / name).exists() for name in PLANTED) and not (Path.home() / ".lassi-hostile-home").exists()
    assert json.loads((run_dir / "run.json").read_text())["program"]
    for cand in result.candidates:  # every candidate's code is what was recorded for it
        if cand.get("sha256"):
            assert sha256_text(listing(read_files(result.state, cand))) == cand["sha256"], cand["key"]
    source = result.candidates[0]
    reference = run_dir / source["run"]["stdout_path"]
    assert hashlib.sha256(reference.read_bytes()).hexdigest() == source["run"]["stdout_sha256"]
    assert reference.read_text().startswith("sum = 5050\n")
    for path in run_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            assert not any(secret.encode() in data for secret in secrets), path
    assert result.finished and (result.best["origin"] != "source" or not improved)
