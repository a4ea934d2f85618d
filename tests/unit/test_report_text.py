"""The report's words: the model's Markdown made safe HTML, and each role's model with its server."""

from __future__ import annotations

from tools.report.document import Heading, Para
from tools.report.html import prose_html
from tools.report.run_report import build_document, describe_models


def test_the_models_markdown_becomes_html_with_its_highest_heading_an_h3():
    assert prose_html("# Result\n\n## Why\n\ntext").split("\n")[:3] == ["<h3>Result</h3>", "<h4>Why</h4>", "<p>text</p>"]
    assert prose_html("#### Deep\n\ntext").startswith("<h3>Deep</h3>")


def test_raw_html_links_and_pictures_in_the_models_text_stay_text():
    page = prose_html('<script>alert(1)</script> <img src="http://x/y.png"> [go](javascript:alert(1)) ![p](http://x/p.png)')
    assert "<script" not in page and "<img" not in page and "<a " not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "[go](javascript:alert(1))" in page


def test_each_model_is_named_with_its_server(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    described = describe_models({"coder": "ollama:qwen2.5-coder", "judge": "openai:o3-mini",
                                 "reporter": "vllm:llama"}, None)
    assert "coder: ollama:qwen2.5-coder (server http://localhost:11434/v1)" in described
    assert "reporter: vllm:llama (server http://localhost:8000/v1)" in described
    assert "judge: openai:o3-mini (server https://api.openai.com/v1)" in described


def test_a_base_url_given_for_the_run_is_the_server_named():
    described = describe_models({"coder": "openai:gpt-4o", "judge": "openai:gpt-4o"}, "http://gpu-box:9000/v1")
    assert described == "coder, judge: openai:gpt-4o (server http://gpu-box:9000/v1)"


def test_a_cpu_run_whose_best_is_the_source_leaves_out_what_does_not_apply_saying_why(tmp_path):
    doc = build_document(tmp_path, *_cpu_run(tmp_path), "### Same", [], "Stage 3 ended: the iteration budget (1) is spent",
                         "coder: scripted:x (scripted: recorded answers replayed, no model was called)")
    headings = [b.text for b in doc.blocks if isinstance(b, Heading)]
    lines = [b.text for b in doc.blocks if isinstance(b, Para)]
    assert not {"Power profiles", "Changes from source to best"} & set(headings)
    assert {"CPU program: no GPU power profile.", "The best is the source: no changes to show."} <= set(lines)
    assert any(line.endswith("Stage 3 ended: the iteration budget (1) is spent.") for line in lines)


def _cpu_run(folder):
    (folder / "main.cpp").write_text("int main() { return 0; }\n")
    measurement = {"method": "time", "objective": "duration_s", "repeats": 2, "wall_s": 2.0,
                   "readings": [{"duration_s": 1.0}, {"duration_s": 1.1}],
                   "stats": {"duration_s": {"mean": 1.05, "std": 0.07, "ci95": 0.6, "n": 2}}}
    source = {"version": 0, "key": "000", "parent": None, "origin": "source", "dir": str(folder),
              "source": str(folder / "main.cpp"), "status": "ran", "reason": "", "measurement": measurement,
              "outcome": "baseline", "outcome_reason": "the source"}
    checks = [{"name": "runs", "ok": True, "reason": "exited 0"}, {"name": "output", "ok": True, "reason": "same"},
              {"name": "workload", "ok": None, "reason": "not counted: CUPTI counts the GPU work of CUDA programs only"}]
    slower = {**source, "version": 1, "key": "001", "parent": "000", "origin": "zero-shot", "temperature": 0.2,
              "outcome": "not_better", "outcome_reason": "slower", "validation": {"valid": True, "checks": checks}}
    return source, source, [source, slower]
