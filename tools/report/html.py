"""The report document as one self-contained HTML file: inline CSS, pictures as data URIs, no scripts.

Every piece of text is escaped (code, model answers and program output can hold anything); the only
markup in the text itself is the `code` and **strong** inline marks of the document model, and the
Markdown of a model's prose, rendered with raw HTML, links and pictures left as text.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

from tools.report.document import Block, Code, Document, Figure, Heading, Items, Para, Prose, Table

SHORT_CELL = 24  # characters: a cell this short never wraps
PROSE_TOP_HEADING = 3  # the prose sits inside a section (h2), so its own headings start one level lower

# CommonMark with tables; raw HTML is escaped, and links and pictures stay text, so the page loads nothing.
PROSE_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable(["link", "image", "autolink"])

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0;
       background: #f6f8fa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 26px; border-bottom: 2px solid #d0d7de; padding-bottom: 8px; }
h2 { font-size: 20px; margin-top: 32px; border-bottom: 1px solid #d8dee4; padding-bottom: 4px; }
nav { font-size: 13px; margin-bottom: 12px; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
table { border-collapse: collapse; margin: 12px 0; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 5px 9px; text-align: left; vertical-align: top; }
th { background: #f0f3f6; }
tr:nth-child(even) td { background: #fafbfc; }
.wide { overflow-x: auto; } td.short { white-space: nowrap; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #eff1f3; padding: 0 3px;
       border-radius: 3px; }
pre { font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f6f8fa;
      border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 0; overflow-x: auto; }
pre span { display: block; padding: 0 12px; white-space: pre; }
.add { background: #dafbe1; } .del { background: #ffebe9; } .hunk { background: #ddf4ff; color: #0550ae; }
.file { font-weight: bold; }
figure { margin: 12px 0; } figure img { max-width: 100%; border: 1px solid #d8dee4; }
figure.small { display: inline-block; width: 48%; margin-right: 1.5%; vertical-align: top; }
figcaption { font-size: 13px; color: #57606a; }
.prose { border-left: 4px solid #d0d7de; padding: 2px 16px; }
.banner { background: #fff8c5; border: 1px solid #d4a72c; padding: 10px 14px; border-radius: 6px; font-weight: bold; }
li li { color: #3d444d; }
"""


def to_html(doc: Document, run_path: Path) -> str:
    """The whole page; pictures are read from the run directory and embedded."""
    body = [f"<h1>{inline(doc.title)}</h1>"]
    sections = [b.text for b in doc.blocks if isinstance(b, Heading) and b.level == 2]
    if sections:
        body.append("<nav>" + "".join(f'<a href="#{_anchor(t)}">{html.escape(t)}</a>' for t in sections) + "</nav>")
    body += [_block(b, run_path) for b in doc.blocks]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(doc.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


def inline(text: str) -> str:
    """Escaped text with its `code` and **strong** marks made into elements."""
    def mark(m: re.Match) -> str:
        return f"<code>{m.group(1)}</code>" if m.group(1) is not None else f"<strong>{m.group(2)}</strong>"

    return re.sub(r"`([^`]+)`|\*\*(.+?)\*\*", mark, html.escape(text))


def _block(b: Block, run_path: Path) -> str:
    if isinstance(b, Heading):
        return f'<h{b.level} id="{_anchor(b.text)}">{inline(b.text)}</h{b.level}>'
    if isinstance(b, Para):
        return f'<p class="banner">{inline(b.text)}</p>' if b.banner else f"<p>{inline(b.text)}</p>"
    if isinstance(b, Table):
        head = "".join(f"<th>{inline(c)}</th>" for c in b.header)
        rows = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>\n" for row in b.rows)
        return f'<div class="wide"><table>\n<tr>{head}</tr>\n{rows}</table></div>'
    if isinstance(b, Items):
        items = "".join(f"<li>{inline(text)}" + ("<ul>" + "".join(f"<li>{inline(s)}</li>" for s in subs) + "</ul>"
                                                 if subs else "") + "</li>\n" for text, subs in b.items)
        return f"<ul>\n{items}</ul>"
    if isinstance(b, Code):
        return "<pre>" + "".join(_code_line(line, b.language) for line in b.text.split("\n")) + "</pre>"
    if isinstance(b, Figure):
        return _figure(b, run_path)
    if isinstance(b, Prose):
        return f'<div class="prose">\n{prose_html(b.text)}</div>'
    raise TypeError(f"no HTML for a {type(b).__name__} block")


def prose_html(text: str) -> str:
    """A model's Markdown as HTML, its headings moved down so that the highest of them is an h3."""
    tokens = PROSE_MARKDOWN.parse(text)
    headings = [t for t in tokens if t.type in ("heading_open", "heading_close")]
    shift = PROSE_TOP_HEADING - min((int(t.tag[1]) for t in headings), default=PROSE_TOP_HEADING)
    for t in headings:
        t.tag = f"h{min(6, int(t.tag[1]) + shift)}"
    return PROSE_MARKDOWN.renderer.render(tokens, PROSE_MARKDOWN.options, {})


def _cell(text: str) -> str:
    """A table cell; short ones (versions, origins, figures) are kept on one line."""
    attribute = ' class="short"' if len(text) <= SHORT_CELL else ""
    return f"<td{attribute}>{inline(text)}</td>"


def _code_line(line: str, language: str) -> str:
    """One line of code; in a diff, added, removed, hunk and file lines get their colour."""
    kind = ""
    if language == "diff":
        kind = ("file" if line.startswith(("+++", "---")) else "add" if line.startswith("+")
                else "del" if line.startswith("-") else "hunk" if line.startswith("@@") else "")
    attribute = f' class="{kind}"' if kind else ""
    return f"<span{attribute}>{html.escape(line) or ' '}</span>"


def _figure(b: Figure, run_path: Path) -> str:
    path = run_path / b.path
    if not path.is_file():
        return f"<p>(picture missing: {html.escape(b.path.as_posix())})</p>"
    data = base64.b64encode(path.read_bytes()).decode()
    attribute = ' class="small"' if b.small else ""
    return (f'<figure{attribute}><img src="data:image/png;base64,{data}" alt="{html.escape(b.alt)}">'
            f"<figcaption>{html.escape(b.alt)}</figcaption></figure>")


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
