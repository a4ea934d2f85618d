"""Documents the user adds to the knowledge (`--knowledge PATH[#SELECTION]`): PDF, Markdown, HTML, text.

A selection keeps the prompt to the part that matters, as an expert would hand over one chapter of
a guide rather than the whole guide:

    guide.pdf#pages=12-15,20       PDF pages (numbered from 1, as a PDF viewer numbers them)
    guide.pdf#sections=2;Streams   PDF sections by bookmark title or number, each to the next bookmark
    notes.md#sections=Streams;2.1  Markdown or HTML sections, by heading text or section number;
                                   a section runs to the next heading of the same or a higher level
    log.txt#lines=10-80            lines of a text file

PDF text comes from `pypdf` (pure Python, imported only when a PDF is given); HTML and Markdown are
read with the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from tools.errors import LassiError

KINDS = {".pdf": "pdf", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".txt": "text",
         ".text": "text", ".rst": "text"}
SELECTIONS = {"pdf": ("pages", "sections"), "markdown": ("sections",), "html": ("sections",), "text": ("lines",)}
MAX_CHARS = 400_000  # about 100k tokens: beyond this a model's context is at risk, so ask for a selection


@dataclass(frozen=True)
class KnowledgeSpec:
    path: Path
    selector: str | None = None  # pages | sections | lines
    value: str = ""

    @property
    def kind(self) -> str:
        return KINDS[self.path.suffix.lower()]

    def __str__(self) -> str:
        return str(self.path) + (f"#{self.selector}={self.value}" if self.selector else "")


def parse_spec(text: str, base: Path | None = None) -> KnowledgeSpec:
    """`PATH` or `PATH#pages=…|sections=…|lines=…`, the path made absolute; syntax errors raise."""
    path_text, selector, value = text, None, ""
    head, sep, tail = text.rpartition("#")
    if sep and re.match(r"^\w+=", tail):
        path_text, (selector, _, value) = head, tail.partition("=")
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    spec = KnowledgeSpec(path.resolve(), selector, value.strip())
    if spec.path.suffix.lower() not in KINDS:
        raise LassiError(f"{{setting}} {text}: unsupported file type {spec.path.suffix or '(none)'!r};"
                         " use PDF, Markdown, HTML or text (.pdf, .md, .html, .txt)", setting="knowledge")
    if selector is not None and selector not in SELECTIONS[spec.kind]:
        ways = " or ".join(f"{way}=" for way in SELECTIONS[spec.kind])
        raise LassiError(f"{{setting}} {text}: a {spec.kind} file is selected by {ways}, not {selector}=", setting="knowledge")
    if selector is not None and not spec.value:
        raise LassiError(f"{{setting}} {text}: {selector}= is empty", setting="knowledge")
    return spec


def load_document(spec: KnowledgeSpec) -> str:
    """The selected text of one document, headed by where it came from."""
    if not spec.path.is_file():
        raise LassiError(f"{{setting}}: {spec.path} is not a file", setting="knowledge")
    reader = {"pdf": _pdf, "markdown": _markdown, "html": _html, "text": _text}[spec.kind]
    text = reader(spec).strip()
    if not text:
        raise LassiError(f"--knowledge {spec}: the selected part holds no text"
                         + (" (a scanned PDF has none to extract)" if spec.kind == "pdf" else ""))
    return f"## From {spec.path.name}" + (f" ({spec.selector} {spec.value})" if spec.selector else "") + f"\n\n{text}"


def load_documents(specs: list[str]) -> str:
    """Every document's selected text, in the order given; too much text in all is refused."""
    texts = [load_document(parse_spec(s)) for s in specs]
    total = sum(map(len, texts))
    if total > MAX_CHARS:
        raise LassiError(f"the {{setting}} documents hold {total:,} characters, more than the {MAX_CHARS:,} a prompt"
                         " can safely carry: select pages or sections (PATH#pages=12-15, PATH#sections=Heading)", setting="knowledge")
    return "\n\n".join(texts)


def _pdf(spec: KnowledgeSpec) -> str:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:
        raise LassiError("reading PDF knowledge needs the pypdf package (pip install pypdf)") from None
    try:
        reader = PdfReader(spec.path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LassiError(f"{{setting}} {spec.path} is encrypted with a password", setting="knowledge")
        count = len(reader.pages)
        if spec.selector == "sections":
            pages = _outline_pages(spec, reader)
        else:
            pages = _numbers(spec, count, "page") if spec.selector else list(range(1, count + 1))
        texts = {n: (reader.pages[n - 1].extract_text() or "").strip() for n in pages}
        return "\n\n".join(f"[page {n}]\n{text}" for n, text in texts.items() if text)
    except (PyPdfError, OSError, ValueError, KeyError) as exc:
        raise LassiError(f"{{setting}} {spec.path} is not a readable PDF ({exc.__class__.__name__}: {exc})", setting="knowledge") from None


def _outline_pages(spec: KnowledgeSpec, reader) -> list[int]:
    """The pages (from 1) of the bookmarked sections the selection names, each up to the next bookmark
    of the same or a higher level."""
    marks: list[_Heading] = []

    def walk(items: list, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            elif (page := reader.get_destination_page_number(item)) is not None:
                marks.append(_Heading(page, level, str(item.title)))

    walk(reader.outline, 1)
    if not marks:
        raise LassiError(f"{{setting}} {spec}: {spec.path.name} has no bookmarks to select sections by; use pages=", setting="knowledge")
    chosen: set[int] = set()
    for wanted in (w.strip() for w in spec.value.split(";") if w.strip()):
        found = [m for m in marks if _matches(wanted, m.title)]
        if not found:
            names = "; ".join(m.title for m in marks[:30])
            raise LassiError(f"{{setting}} {spec}: no bookmark {wanted!r} in {spec.path.name} (its bookmarks: {names})", setting="knowledge")
        for mark in found:
            after = marks[marks.index(mark) + 1:]
            end = next((m.line for m in after if m.level <= mark.level), len(reader.pages))
            chosen.update(range(mark.line + 1, max(end, mark.line + 1) + 1))
    return sorted(chosen)


def _text(spec: KnowledgeSpec) -> str:
    lines = _read(spec.path).splitlines()
    if not spec.selector:
        return "\n".join(lines)
    return "\n".join(lines[n - 1] for n in _numbers(spec, len(lines), "line"))


def _markdown(spec: KnowledgeSpec) -> str:
    return _sections(spec, _read(spec.path))


def _html(spec: KnowledgeSpec) -> str:
    parser = _HtmlToMarkdown()
    parser.feed(_read(spec.path))
    parser.close()
    return _sections(spec, parser.markdown())


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _numbers(spec: KnowledgeSpec, count: int, unit: str) -> list[int]:
    """The numbers a `12-15,20` selection names, each checked against the document's `count`."""
    chosen: list[int] = []
    for part in spec.value.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise LassiError(f"{{setting}} {spec}: {part.strip()!r} is not a {unit} number or range like 12-15", setting="knowledge")
        first, last = int(match[1]), int(match[2] or match[1])
        if not 1 <= first <= last <= count:
            raise LassiError(f"{{setting}} {spec}: {unit}s {part.strip()} are out of range;"
                             f" {spec.path.name} has {count} {unit}{'s' if count != 1 else ''}", setting="knowledge")
        chosen += [n for n in range(first, last + 1) if n not in chosen]
    return chosen


@dataclass(frozen=True)
class _Heading:
    line: int
    level: int
    title: str


def _sections(spec: KnowledgeSpec, markdown: str) -> str:
    """The sections whose headings the selection names (each with its subsections), in document order."""
    lines = markdown.splitlines()
    if not spec.selector:
        return markdown
    headings = _headings(lines)
    keep: set[int] = set()
    for wanted in (w.strip() for w in spec.value.split(";") if w.strip()):
        found = [h for h in headings if _matches(wanted, h.title)]
        if not found:
            names = "; ".join(h.title for h in headings[:30]) or "none"
            raise LassiError(f"{{setting}} {spec}: no heading {wanted!r} in {spec.path.name} (its headings: {names})", setting="knowledge")
        for h in found:
            end = next((o.line for o in headings if o.line > h.line and o.level <= h.level), len(lines))
            keep.update(range(h.line, end))
    return "\n".join(lines[i] for i in sorted(keep))


def _headings(lines: list[str]) -> list[_Heading]:
    """ATX (`## Title`) and setext (Title over ===/---) headings, outside fenced code blocks."""
    found, fence = [], None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if fence:
            fence = None if stripped.startswith(fence) else fence
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if match := re.match(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$", line):
            found.append(_Heading(i, len(match[1]), match[2]))
        elif (i + 1 < len(lines) and stripped and not stripped.startswith(("-", "*", ">", "|"))
              and re.fullmatch(r" {0,3}(=+|-+)\s*", lines[i + 1])):
            found.append(_Heading(i, 1 if "=" in lines[i + 1] else 2, stripped))
    return found


def _matches(wanted: str, title: str) -> bool:
    """A heading is named by its whole title, its title without the number, or its number (`2.1`).

    Marks that documentation generators append to headings (a pilcrow or `#` link) are ignored.
    """
    def norm(s: str) -> str:
        return " ".join(s.replace("*", "").replace("`", "").split()).casefold().rstrip("¶# ").rstrip(".")

    title = norm(title)
    numbered = re.match(r"^(?:chapter\s+)?(\d+(?:\.\d+)*)\.?\s+(.*)$", title)
    names = {title} | ({numbered[1], numbered[2]} if numbered else set())
    return norm(wanted) in names


class _HtmlToMarkdown(HTMLParser):
    """Just enough of HTML for selecting sections: headings become `#` lines, <pre> becomes a fence."""

    SKIP = {"script", "style", "head", "noscript", "svg", "nav"}
    BLOCKS = {"p", "div", "section", "article", "li", "tr", "br", "table", "ul", "ol", "dl", "dt", "dd", "blockquote",
              "figure", "figcaption", "header", "footer", "main"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.pre = 0
        self.in_link_mark = False  # the `#`/pilcrow link that documentation generators put in headings

    def handle_starttag(self, tag, attrs):
        if tag == "a" and "headerlink" in (dict(attrs).get("class") or ""):
            self.in_link_mark = True
        elif tag in self.SKIP:
            self.skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.out.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "pre":
            self.pre += 1
            self.out.append("\n\n```\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in self.BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag == "a":
            self.in_link_mark = False
        elif tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self.out.append("\n\n")
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self.out.append("\n```\n\n")
        elif tag in self.BLOCKS:
            self.out.append("\n")

    def handle_data(self, data):
        if self.skipping or self.in_link_mark:
            return
        self.out.append(data if self.pre else re.sub(r"\s+", " ", data))

    def markdown(self) -> str:
        lines, fenced = [], False
        for line in "".join(self.out).splitlines():
            fenced ^= line.strip() == "```"
            lines.append(line.rstrip() if fenced else line.strip())
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
