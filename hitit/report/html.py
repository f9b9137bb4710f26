"""A small, dependency-free HTML page builder for plan, response and review reports.

Pages are single files: images are embedded as base64 PNG so a report can be e-mailed or
archived with the plan and still open without a server.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from hitit.io.atomic import write_text_atomic

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.ok { color: #1a7f37; font-weight: bold; } .bad { color: #c62828; font-weight: bold; } .warn { color: #b26a00; font-weight: bold; }
figure { display: inline-block; margin: 0.4em; } figcaption { font-size: 0.8em; color: #555; }
.note { font-size: 0.85em; color: #555; }
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if value is None:
        return "&ndash;"
    return html.escape(str(value))


@dataclass
class HtmlReport:
    """Accumulates sections; :meth:`write` saves one self-contained page atomically."""

    title: str
    parts: list[str] = field(default_factory=list)

    def heading(self, text: str) -> None:
        """Start a section."""
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def paragraph(self, text: str, css_class: str = "") -> None:
        """A paragraph of plain text (escaped)."""
        attr = f' class="{css_class}"' if css_class else ""
        self.parts.append(f"<p{attr}>{html.escape(text)}</p>")

    def table(self, rows: list[dict], columns: list[str] | None = None) -> None:
        """A table of ``rows`` (dicts); ``columns`` chooses and orders the keys."""
        if not rows:
            self.paragraph("(none)", "note")
            return
        columns = columns or list(rows[0])
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows)
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")

    def image(self, png: bytes, caption: str) -> None:
        """Embed a PNG image with a caption."""
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def raw(self, fragment: str) -> None:
        """Append an HTML fragment built by the caller (already escaped)."""
        self.parts.append(fragment)

    def render(self) -> str:
        """The whole page as a string."""
        return (
            f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(self.title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>{''.join(self.parts)}</body></html>"
        )

    def write(self, path: str | Path) -> Path:
        """Write the page atomically; return its path."""
        return write_text_atomic(path, self.render())
