"""A small, dependency-free HTML page builder for plan, response and review reports.

Pages are single files: images are embedded as base64 PNG so a report can be e-mailed or
archived with the plan and still open without a server. Values are written for a reader: booleans
as "yes"/"no", missing values as "—", numbers with a precision that suits their size (or the one a
:class:`Column` asks for). Printing fits tables and images to the page and starts every
:meth:`HtmlReport.section` on a new page.
"""

from __future__ import annotations

import base64
import html
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hitit.io.atomic import write_text_atomic

#: What a missing value is shown as.
MISSING = "—"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; padding: 0 1em; color: #222; max-width: 60rem; }
h1 { font-size: 1.45em; margin-bottom: 0.3em; } \
h2 { font-size: 1.2em; margin-top: 1.4em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.0em; margin: 1.1em 0 0.3em; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 0.86em; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.45em; text-align: left; vertical-align: top; \
overflow-wrap: break-word; }
th { background: #f2f2f2; font-weight: 600; } td.num { text-align: right; white-space: nowrap; }
table.kv th { width: 28%; }
.yes, .ok { color: #1a7f37; font-weight: bold; } .no, .bad { color: #c62828; font-weight: bold; }
.caution, .warn { color: #b26a00; font-weight: bold; }
figure { display: inline-block; margin: 0.3em; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; height: auto; } figcaption { font-size: 0.78em; color: #555; max-width: 32rem; }
figure.half { width: calc(50% - 0.8em); } figure.quarter { width: calc(25% - 0.8em); }
figure.wide { width: calc(100% - 0.8em); } figure.half img, figure.quarter img, figure.wide img { width: 100%; }
.note { font-size: 0.85em; color: #555; } ul { margin: 0.2em 0 0.6em; padding-left: 1.3em; } li { margin: 0.1em 0; }
.box { border: 1px solid #b26a00; background: #fff8ec; padding: 0.3em 0.8em; margin: 0.6em 0; }
@page { size: A4; margin: 12mm; }
@media print {
  body { margin: 0; padding: 0; max-width: none; font-size: 8pt; }
  h1 { font-size: 13pt; } h2 { font-size: 11pt; margin-top: 0; } h3 { font-size: 9pt; margin: 0.5em 0 0.2em; }
  table { font-size: 7pt; margin: 0.2em 0 0.4em; } figcaption { font-size: 6.5pt; }
  figure.half { width: calc(33% - 0.8em); } figure.quarter { width: calc(12% - 0.8em); }
  figure.wide { width: calc(60% - 0.8em); }
  section.page { break-before: page; }
  figure, table, .box { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


class Html(str):
    """A fragment that is already HTML (not escaped again when put in a table cell)."""


def link(text: str, anchor: str) -> Html:
    """A link to a section of the page."""
    return Html(f'<a href="#{html.escape(anchor)}">{html.escape(text)}</a>')


def tagged(text: str, css_class: str) -> Html:
    """Text in a span of ``css_class`` (e.g. the verdict colours ``yes``, ``caution``, ``no``)."""
    return Html(f'<span class="{html.escape(css_class)}">{html.escape(text)}</span>')


def format_value(value, digits: int | None = None) -> str:
    """A value as text for a reader (not escaped): yes/no, "—" for missing, numbers at ``digits`` decimals
    (default: 0 at 100 and above, 1 from 1, 2 below 1).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isinf(value):
            return MISSING
        if digits is None:
            digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 1 or value == 0 else 2
        return f"{value:.{digits}f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v, digits) for v in value) or MISSING
    text = str(value)
    return text if text else MISSING


@dataclass(frozen=True)
class Column:
    """A table column: the row key, its header (units in it, "Length (mm)") and the decimals of numbers."""

    key: str
    header: str
    digits: int | None = None


def _cell(value, digits: int | None = None) -> str:
    if isinstance(value, Html):
        return f"<td>{value}</td>"
    css = ' class="num"' if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return f"<td{css}>{html.escape(format_value(value, digits))}</td>"


@dataclass
class HtmlReport:
    """Accumulates sections; :meth:`write` saves one self-contained page atomically."""

    title: str
    parts: list[str] = field(default_factory=list)

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> None:
        """A heading (``level`` 2 or 3), optionally a link target."""
        attr = f' id="{html.escape(anchor)}"' if anchor else ""
        self.parts.append(f"<h{level}{attr}>{html.escape(text)}</h{level}>")

    @contextmanager
    def section(self, anchor: str, title: str, new_page: bool = True):
        """A section with a heading; printed on a new page when ``new_page``."""
        css = ' class="page"' if new_page else ""
        self.parts.append(f'<section id="{html.escape(anchor)}"{css}>')
        self.heading(title)
        try:
            yield self
        finally:
            self.parts.append("</section>")

    def paragraph(self, text: str, css_class: str = "") -> None:
        """A paragraph of plain text (escaped) or of an :class:`Html` fragment."""
        attr = f' class="{css_class}"' if css_class else ""
        body = text if isinstance(text, Html) else html.escape(text)
        self.parts.append(f"<p{attr}>{body}</p>")

    def bullets(self, items: list[str], css_class: str = "") -> None:
        """A bulleted list of plain-text (or :class:`Html`) items."""
        attr = f' class="{css_class}"' if css_class else ""
        lis = "".join(f"<li>{i if isinstance(i, Html) else html.escape(i)}</li>" for i in items)
        self.parts.append(f"<ul{attr}>{lis}</ul>")

    def table(self, rows: list[dict], columns: list[str | Column] | None = None) -> None:
        """A table of ``rows`` (dicts); ``columns`` chooses and orders the keys (names or :class:`Column`)."""
        if not rows:
            self.paragraph("(none)", "note")
            return
        specs = [c if isinstance(c, Column) else Column(c, c) for c in (columns or list(rows[0]))]
        head = "".join(f"<th>{html.escape(c.header)}</th>" for c in specs)
        body = "".join("<tr>" + "".join(_cell(row.get(c.key), c.digits) for c in specs) + "</tr>" for row in rows)
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")

    def key_values(self, pairs: list[tuple[str, object]]) -> None:
        """A two-column table of labels and values (a card)."""
        body = "".join(
            f"<tr><th>{html.escape(label)}</th>"
            f"<td>{value if isinstance(value, Html) else html.escape(format_value(value))}</td></tr>"
            for label, value in pairs
        )
        self.parts.append(f'<table class="kv">{body}</table>')

    def image(self, png: bytes, caption: str, size: str = "") -> None:
        """Embed a PNG image with a caption; ``size`` is ``"half"``, ``"quarter"`` or ``"wide"`` of the page width
        (default: the image's own size).
        """
        data = base64.b64encode(png).decode("ascii")
        css = f' class="{html.escape(size)}"' if size else ""
        self.parts.append(
            f'<figure{css}><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def raw(self, fragment: str) -> None:
        """Append an HTML fragment built by the caller (already escaped)."""
        self.parts.append(fragment)

    def render(self) -> str:
        """The whole page as a string."""
        return (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>{''.join(self.parts)}</body></html>"
        )

    def write(self, path: str | Path) -> Path:
        """Write the page atomically; return its path."""
        return write_text_atomic(path, self.render())
