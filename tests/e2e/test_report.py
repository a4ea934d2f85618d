"""The run's report: report.md and a self-contained report.html from one document, rebuilt by `lassi-ee report`."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.api import optimize, profile
from app.cli import main
from tests.helpers import ROOT
from tests.helpers.programs import VALID, answer, sleeper
from tools.report.plots import SearchPoint, plot_profile, plot_search
from tools.report.run_report import write_reports
from tools.rundir import RunDir, write_json, write_text

COMPARISON = "The best version waits less: <script>alert('x')</script> & sleeps 40 ms.\n\nIt prints the same sum."


@pytest.fixture
def finished(program, session, settings):
    """A one-iteration run whose reporter answer holds markup that must not reach the HTML as markup.

    Five runs a candidate, so that v001's saving (40 ms of waiting against 200) stays significant on a busy machine.
    """
    model = session({"coder": [answer(sleeper(40)), answer(sleeper(40, "output"))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": [COMPARISON]})
    return optimize(program, ["100"], **settings(model, max_iterations=1, min_repeats=5, max_repeats=5))


def test_lassi_ee_report_rebuilds_the_same_files_without_calling_a_model(finished, capsys):
    run = RunDir(finished.run_dir)
    written = {p: p.read_bytes() for p in (run.report, run.report_html, run.path / "search.png")}
    model_log = run.llm_log.read_bytes()
    for path in written:
        path.unlink()
    assert main(["report", str(run.path)]) == 0
    assert f"Report: {run.report}" in capsys.readouterr().out
    for path, content in written.items():
        assert path.read_bytes() == content, f"{path.name} differs from the one the run wrote"
    assert run.llm_log.read_bytes() == model_log
    assert run.comparison.read_text() == COMPARISON


def test_the_report_holds_the_table_the_search_every_candidate_and_the_diff(finished):
    md = finished.report_path.read_text()
    assert "| Runtime (s) | " in md and "| Code version | v000 | v001 |" in md
    assert "![Objective of every candidate in the order it was made](search.png)" in md
    assert "| v002 | plan-step | v001 |" in md and "invalid: output: line " in md
    assert "- **v002** (plan-step): invalid" in md and "  - output: FAIL — " in md
    assert "```diff\n--- source/main.cpp\n+++ best/main.cpp" in md and "+#define WAIT_MS 40" in md
    assert COMPARISON in md  # Markdown shows the model's text as it came
    assert "| reporter | 1 | 0 |" in md and "| measured runs | " in md


def test_report_html_is_one_self_contained_file_with_every_text_escaped(finished):
    page = (finished.run_dir / "report.html").read_text()
    assert "<script" not in page and "&lt;script&gt;alert('x')&lt;/script&gt; &amp; sleeps" in page
    assert "<p>It prints the same sum.</p>" in page  # paragraphs kept
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]) == (finished.run_dir / "search.png").read_bytes()
    assert not re.search(r'(src|href)="(?!data:|#)', page), "the page must not load anything from elsewhere"
    assert '<span class="add">+#define WAIT_MS 40</span>' in page and "#include &lt;" in page
    for row in finished.table:  # the same table as report.md and the CLI's summary
        assert f"<td>{row['metric']}</td>" in page.replace(' class="short"', "")
        assert row["change"] in page


def test_a_run_directory_copied_elsewhere_is_reported_from_its_new_place(finished, tmp_path):
    copy = tmp_path / "copied-run"
    shutil.copytree(finished.run_dir, copy)
    shutil.rmtree(finished.run_dir)
    assert main(["report", str(copy)]) == 0
    assert f"found at {copy.resolve()}/candidates/v001-zero-shot" in (copy / "report.md").read_text()


def test_report_of_an_unfinished_run_says_to_resume_it_and_writes_nothing(program, session, settings, capsys):
    model = session({"coder": [answer(sleeper(40))], "judge": [VALID], "planner": ["plan"], "reporter": ["x"]})
    paused = optimize(program, ["100"], interrupt_before=["judge"], **settings(model, max_iterations=1))
    assert main(["report", str(paused.run_dir)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("lassi-ee: error: the run in ") and "has not finished" in err
    assert f"lassi-ee resume {paused.run_dir}" in err and len(err.splitlines()) == 1
    assert not (paused.run_dir / "report.md").exists() and not (paused.run_dir / "report.html").exists()


def test_report_of_a_profile_or_of_no_run_is_one_error_line(program, settings, tmp_path, capsys):
    profiled = profile(program, ["100"], **settings("scripted:unused"))
    for folder, says in ((profiled.run_dir, "holds a profile (Stage 0 alone), which has no report"),
                         (tmp_path / "nowhere", "run.json is missing")):
        assert main(["report", str(folder)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("lassi-ee: error: ") and says in err and err.count("\n") == 1
    assert not (tmp_path / "nowhere").exists()


def test_the_search_plot_is_the_same_bytes_for_the_same_candidates(tmp_path):
    points = [SearchPoint("v000", "source", 10.0, 0.4, 10.0), SearchPoint("v001", "failed", None, None, 10.0),
              SearchPoint("v002", "invalid", 6.0, 0.3, 10.0), SearchPoint("v003", "valid", 8.0, None, 8.0)]
    first = plot_search(points, "v003", tmp_path / "a.png", "Net GPU energy (J)").read_bytes()
    assert first[:4] == b"\x89PNG" and plot_search(points, "v003", tmp_path / "b.png", "J").read_bytes() != first
    assert plot_search(points, "v003", tmp_path / "c.png", "Net GPU energy (J)").read_bytes() == first


def test_power_profiles_of_source_and_best_are_overlaid_and_embedded(tmp_path):
    """A run measured by NVML (written here by hand, as a GPU run would leave it): its profiles are in the page."""
    run = RunDir(tmp_path / "run")
    state = {"best": "001", "stop_reason": "iteration budget (1) spent",
             "candidates": {"000": _gpu_candidate(run, 0, "source", 40.0), "001": _gpu_candidate(run, 1, "zero-shot", 30.0)}}
    write_text(run.comparison, "The best copies less.")
    write_reports(run, state, {"coder": "openai:o3-mini"})
    md, page = run.report.read_text(), run.report_html.read_text()
    assert "![Net GPU power of the source and the best candidate](power-overlay.png)" in md
    assert "![v001 power profile, every repeat](candidates/v001-zero-shot/power.png)" in md
    assert "| Net GPU energy (J) | 41 ± 2.5 | 31 ± 2.5 | " in md and "| Average power (W) |" in md
    assert page.count('<img src="data:image/png;base64,') == 4  # overlay, two profiles, the search


def _gpu_candidate(run: RunDir, version: int, origin: str, energy: float) -> dict:
    folder = run.candidate(version, origin)
    write_text(folder / "main.cu", f"// version {version}\nint main() {{ return 0; }}\n")
    readings = [{"duration_s": 1.0 + i / 100, "net_energy_j": energy + i, "gross_energy_j": energy + 80 + i,
                 "avg_power_w": energy + i, "idle_power_w": 77.0} for i in range(3)]
    write_text(folder / "power.csv", "repeat,seconds,watts\n" + "".join(
        f"{r},{t / 10:.1f},{77 + energy * (0 < t < 10)}\n" for r in range(3) for t in range(14)))
    measurement = {"method": "nvml", "objective": "net_energy_j", "repeats": 3, "wall_s": 9.0, "readings": readings,
                   "trace_path": str(folder / "power.csv"),
                   "stats": {m: {"mean": sum(r[m] for r in readings) / 3, "std": 1.0, "ci95": 2.5, "n": 3}
                             for m in ("net_energy_j", "gross_energy_j", "avg_power_w", "duration_s")}}
    measurement["plot_path"] = str(plot_profile(folder / "power.csv", measurement, folder / "power.png", origin))
    write_json(folder / "measurement.json", measurement)
    return {"version": version, "key": f"{version:03d}", "parent": None if version == 0 else "000", "origin": origin,
            "dir": str(folder), "source": str(folder / "main.cu"), "status": "judged", "reason": "",
            "temperature": None if version == 0 else 0.2, "measurement": measurement,
            "outcome": "baseline" if version == 0 else "better", "outcome_reason": "measured",
            "validation": None if version == 0 else {"valid": True, "checks": [{"name": "runs", "ok": True,
                                                                                "reason": "exited 0"}]}}


CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)),
                None)


@pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium or Chrome binary")
def test_a_scripted_runs_report_html_renders_in_headless_chromium_with_its_table_and_plots(tmp_path):
    examples = ROOT / "examples"
    run_dir, shot = tmp_path / "run", tmp_path / "report.png"
    done = subprocess.run([sys.executable, "-m", "app.cli", "optimize", str(examples / "programs" / "heat2d"),
                           "--model", f"scripted:{examples / 'sessions' / 'heat2d' / 'session.json'}",
                           "--run-dir", str(run_dir), "--repeats", "3"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1280,2000", (run_dir / "report.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    pixels = _pixels(shot)
    assert pixels.shape == (2000 * 1280, 3)
    assert (pixels != 255).any(axis=1).mean() > 0.05  # not a blank page
    table_header, valid_marker = (0xF0, 0xF3, 0xF6), (44, 160, 44)  # th background; tab:green on the search plot
    assert _count(pixels, table_header, 0) > 2000, "no table on the first screen"
    assert _count(pixels, valid_marker, 12) > 100, "no search plot on the first screen"


def _pixels(png: Path):
    import matplotlib.image

    return (matplotlib.image.imread(png)[:, :, :3] * 255).round().astype(int).reshape(-1, 3)


def _count(pixels, colour: tuple[int, int, int], tolerance: int) -> int:
    return int((abs(pixels - colour) <= tolerance).all(axis=1).sum())
