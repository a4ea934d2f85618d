"""The report's words: the model's Markdown made safe HTML, and each role's model with its server."""

from __future__ import annotations

from tools.report.html import prose_html
from tools.report.run_report import describe_models


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
    assert "judge: openai:o3-mini (server: the OpenAI API)" in described


def test_a_base_url_given_for_the_run_is_the_server_named():
    described = describe_models({"coder": "openai:gpt-4o", "judge": "openai:gpt-4o"}, "http://gpu-box:9000/v1")
    assert described == "coder, judge: openai:gpt-4o (server http://gpu-box:9000/v1)"
