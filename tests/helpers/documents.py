"""Small knowledge documents the tests write for themselves: a PDF with text pages, Markdown, HTML."""

from __future__ import annotations

from pathlib import Path


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A valid PDF with one Helvetica text line per string, one page per list (no PDF library needed)."""
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    first_page = 4
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               "<< /Type /Pages /Kids [{}] /Count {} >>".format(
                   " ".join(f"{first_page + 2 * i} 0 R" for i in range(len(pages))), len(pages)),
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, lines in enumerate(pages):
        stream = "BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"({escape(line)}) Tj T*" for line in lines) + " ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
                       f" /Contents {first_page + 2 * i + 1} 0 R >>")
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


MARKDOWN = """# Tuning notes

Opening words that no section selection keeps.

## Pinned buffers

Marker MD-PINNED: page-locked host buffers double copy throughput.

### Measuring copies

Marker MD-MEASURE: time the copies alone.

## Streams

Marker MD-STREAMS: overlap copies with kernels.

```cpp
# not a heading, inside a code block
```
"""

HTML = """<!doctype html>
<html><head><title>Guide</title><style>h2 { color: red }</style></head>
<body>
<nav>Marker HTML-NAV: site menu</nav>
<h1>Guide</h1>
<p>Marker HTML-INTRO: introduction.</p>
<h2>3.1 Coalesced access</h2>
<p>Marker HTML-COALESCE: neighbouring threads should read
neighbouring words.</p>
<pre>
for (int i = 0; i &lt; n; ++i)
    a[i] = b[i];
</pre>
<h2>3.2 Shared memory</h2>
<p>Marker HTML-SHARED: stage reused tiles.</p>
<script>var marker = "HTML-SCRIPT";</script>
</body></html>
"""
