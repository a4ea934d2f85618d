"""The knowledge the summarizer reads: the project's notes, and the user's documents with their selections."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from graph.context import make_context
from knowledge import load_knowledge, load_notes, note_files
from knowledge.documents import MAX_CHARS, load_document, load_documents, parse_spec
from tests.helpers import ROOT
from tests.helpers.documents import HTML, MARKDOWN, write_pdf
from tools.errors import LassiError

CUDA_TOPICS = ("transfers", "streams", "coalescing", "shared-and-constant", "occupancy", "synchronization", "precision",
               "redundant-work", "clocks-and-power")


@pytest.fixture
def docs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "notes.md").write_text(MARKDOWN)
    (tmp_path / "guide.html").write_text(HTML)
    (tmp_path / "log.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    pdf = write_pdf(tmp_path / "guide.pdf", [["Marker PDF-ONE"], ["Marker PDF-TWO", "(second line)"],
                                              ["Marker PDF-THREE"]])
    return {"md": tmp_path / "notes.md", "html": tmp_path / "guide.html", "txt": tmp_path / "log.txt", "pdf": pdf}


@pytest.mark.parametrize("topic", CUDA_TOPICS)
def test_every_cuda_topic_has_a_note_saying_when_it_pays_when_not_and_how_to_tell(topic):
    [note] = [p for p in note_files("cuda") if topic in p.name]
    headings = re.findall(r"^## (.+)$", note.read_text(), re.M)
    assert {"When it saves energy", "When it does not", "How to tell which case applies", "Sources"} <= set(headings)
    sources = note.read_text().split("## Sources", 1)[1]
    assert re.search(r"\bsection\b|§", sources, re.I), "sources are cited by title and section"


def test_the_notes_repeat_no_passage_of_the_paper():
    checker = Path("/work/shared/tools/verbatim_check.py")
    if not checker.exists():
        pytest.skip("the verbatim checker is not on this machine")
    result = subprocess.run([sys.executable, str(checker), str(ROOT / "knowledge")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_notes_of_each_language_are_loaded_with_their_names():
    cuda, cpp = load_notes("cuda"), load_notes("cpp")
    assert all(f"# {p.name}" in cuda for p in note_files("cuda")) and "OpenMP" in cpp
    assert load_knowledge("cuda", []) == cuda


def test_pdf_pages_are_selected_as_a_viewer_numbers_them(docs):
    text = load_document(parse_spec(f"{docs['pdf']}#pages=2-3"))
    assert "PDF-TWO" in text and "(second line)" in text and "PDF-THREE" in text and "PDF-ONE" not in text
    assert text.startswith("## From guide.pdf (pages 2-3)") and "[page 2]" in text
    assert "PDF-ONE" in load_document(parse_spec(str(docs["pdf"])))


def test_markdown_sections_come_with_their_subsections_and_code_is_never_a_heading(docs):
    text = load_document(parse_spec(f"{docs['md']}#sections=Pinned buffers"))
    assert "MD-PINNED" in text and "MD-MEASURE" in text
    assert "MD-STREAMS" not in text and "Opening words" not in text
    both = load_document(parse_spec(f"{docs['md']}#sections=measuring copies;streams"))
    assert "MD-MEASURE" in both and "MD-STREAMS" in both and "# not a heading" in both and "MD-PINNED" not in both


def test_html_sections_by_number_or_title_without_scripts_or_menus(docs):
    text = load_document(parse_spec(f"{docs['html']}#sections=3.1"))
    assert "HTML-COALESCE: neighbouring threads should read neighbouring words." in text
    assert "for (int i = 0; i < n; ++i)\n    a[i] = b[i];" in text
    assert "HTML-SHARED" not in text and "HTML-INTRO" not in text
    whole = load_document(parse_spec(str(docs["html"])))
    assert "HTML-SHARED" in whole and "HTML-NAV" not in whole and "HTML-SCRIPT" not in whole
    assert "HTML-SHARED" in load_document(parse_spec(f"{docs['html']}#sections=Shared Memory"))


def test_text_lines(docs):
    assert load_document(parse_spec(f"{docs['txt']}#lines=2-3,9")).splitlines()[2:] == ["line 2", "line 3", "line 9"]


def test_user_documents_follow_the_notes(docs):
    text = load_knowledge("cuda", [f"{docs['md']}#sections=Streams"])
    assert text.startswith(load_notes("cuda")) and text.index("Documents added by the user") < text.index("MD-STREAMS")


@pytest.mark.parametrize("spec, message", [
    ("missing.md", "missing.md is not a file"),
    ("notes.docx", "unsupported file type '.docx'"),
    ("guide.pdf#lines=2", "a pdf file is selected by pages= or sections=, not lines="),
    ("guide.pdf#sections=Intro", "guide.pdf has no bookmarks to select sections by; use pages="),
    ("guide.pdf#pages=3-5", "pages 3-5 are out of range; guide.pdf has 3 pages"),
    ("guide.pdf#pages=two", "'two' is not a page number or range like 12-15"),
    ("notes.md#sections=Shared memory", "no heading 'Shared memory' in notes.md (its headings: Tuning notes; Pinned"),
    ("log.txt#lines=", "lines= is empty"),
])
def test_bad_paths_and_selections_say_what_is_wrong(docs, spec, message, monkeypatch):
    monkeypatch.chdir(docs["md"].parent)
    with pytest.raises(LassiError) as err:
        load_documents([spec])
    assert message in str(err.value)


def test_too_much_text_asks_for_a_selection(docs, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("x" * (MAX_CHARS + 1))
    with pytest.raises(LassiError, match="select pages or sections"):
        load_documents([str(big)])


def test_knowledge_paths_are_made_absolute_with_their_selection(docs, monkeypatch):
    monkeypatch.chdir(docs["pdf"].parent)
    assert make_context(knowledge=["guide.pdf#pages=2"]).knowledge == [f"{docs['pdf']}#pages=2"]


def test_a_bad_selection_on_the_command_line_is_one_error_line(docs, program, session, capsys):
    model = session({})
    code = main(["optimize", str(program), "--model", model, "--knowledge", str(docs["md"]),
                 "--knowledge", f"{docs['pdf']}#pages=7"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == [f"lassi-ee: error: --knowledge {docs['pdf']}#pages=7: pages 7 are out of range;"
                                 " guide.pdf has 3 pages"]


def test_generated_documentation_headings_are_found_by_title_or_number(tmp_path):
    page = tmp_path / "guide.html"
    page.write_text('<h2><span class="section-number">9.2.1. </span>Coalesced Access to Global Memory'
                    '<a class="headerlink" href="#c">#</a></h2><p>Coalescing text.</p>'
                    '<h3>9.2.1.1. A Simple Access Pattern<a class="headerlink" href="#s">¶</a></h3><p>Sub text.</p>'
                    '<h2>9.2.2. L2 Cache<a class="headerlink" href="#l2">#</a></h2><p>L2 text.</p>')
    by_title = load_document(parse_spec(f"{page}#sections=coalesced access to global memory"))
    assert "## 9.2.1. Coalesced Access to Global Memory\n" in by_title and "Sub text." in by_title
    assert "L2 text" not in by_title and "¶" not in by_title
    assert "L2 text." in load_document(parse_spec(f"{page}#sections=9.2.2"))


def test_pdf_sections_are_found_by_their_bookmarks(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = write_pdf(tmp_path / "plain.pdf", [[f"Marker PAGE-{n}"] for n in range(1, 7)])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.add_outline_item(title="1 Introduction", page_number=0)
    chapter = writer.add_outline_item(title="2 Memory Optimizations", page_number=1)
    writer.add_outline_item(title="2.1 Pinned Memory", page_number=2, parent=chapter)
    writer.add_outline_item(title="3 Execution Configuration", page_number=4)
    with open(tmp_path / "guide.pdf", "wb") as f:
        writer.write(f)
    chapter_two = load_document(parse_spec(f"{tmp_path / 'guide.pdf'}#sections=2"))
    assert [n for n in range(1, 7) if f"PAGE-{n}" in chapter_two] == [2, 3, 4]
    two_one_and_three = load_document(parse_spec(f"{tmp_path / 'guide.pdf'}#sections=pinned memory;3"))
    assert [n for n in range(1, 7) if f"PAGE-{n}" in two_one_and_three] == [3, 4, 5, 6]
    with pytest.raises(LassiError, match="no bookmark 'Streams' in guide.pdf .its bookmarks: 1 Introduction; 2 Memory"):
        load_document(parse_spec(f"{tmp_path / 'guide.pdf'}#sections=Streams"))
