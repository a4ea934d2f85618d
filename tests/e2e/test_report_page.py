"""report.html of a CPU run as a browser shows it: every section has something in it, the model's Markdown
is rendered (its headings below the report's own), and each role names its model and where it was served."""

from __future__ import annotations

import re
import subprocess

import pytest

from app.api import optimize
from tests.e2e.test_report import CHROMIUM, _pixels
from tests.helpers.programs import VALID, answer, sleeper

COMPARISON = """### Comparison

The best version **waits less**:

- it sleeps 40 ms instead of 200
- it prints the same sum

<h1>raw heading</h1> [a link](http://example.com/) ![a picture](http://example.com/x.png)
"""


@pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium or Chrome binary")
def test_a_cpu_runs_page_has_no_empty_section_renders_the_models_markdown_and_names_models(
        program, session, settings, tmp_path):
    model = session({"coder": [answer(sleeper(40)), answer(sleeper(40, "output"))], "judge": [VALID] * 2,
                     "planner": ["plan"], "reporter": [COMPARISON]})
    run = optimize(program, ["100"], **settings(model, max_iterations=1, min_repeats=3))
    page = run.run_dir / "report.html"
    dom = _chromium("--dump-dom", page.as_uri())
    sections = re.split(r"<h2\b", dom.split("</nav>", 1)[1])[1:]
    assert len(sections) >= 6
    for section in sections:
        heading, _, body = section.partition("</h2>")
        assert re.sub(r"<[^>]+>|\s", "", body) or "<img" in body, f"empty section: {heading}"
    assert '<div class="prose">\n<h3>Comparison</h3>' in dom and "<li>it sleeps 40 ms instead of 200</li>" in dom
    assert "<strong>waits less</strong>" in dom and "<h1>raw heading</h1>" not in dom
    assert "&lt;h1&gt;raw heading&lt;/h1&gt; [a link](http://example.com/)" in dom
    assert not re.search(r'(src|href)="(?!data:|#)', dom), "the page must not load anything from elsewhere"
    assert f"coder, judge, summarizer, planner, reporter: {model} (scripted: recorded answers replayed" in dom
    assert "CPU program: no GPU power profile." in dom and "Power profiles" not in dom
    shot = tmp_path / "report.png"
    _chromium("--hide-scrollbars", f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert (_pixels(shot) != 255).any(axis=1).mean() > 0.05  # the page is drawn, not blank


def _chromium(*args: str) -> str:
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *args],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout
