"""The report as one self-contained HTML file: inline CSS, inline SVG charts, a JSON island."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from markupsafe import escape as html_escape

from incidents import output
from incidents.errors import printable
from incidents.report.data import ReportData
from incidents.report.layout import Body, body, scope_text
from incidents.version import __version__

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class ShownSection:
    key: str
    heading: str
    definitions: tuple[tuple[str, str], ...]
    scope: str
    empty: bool
    message: str
    error: str | None
    body: Body


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["code"] = code_spans
    env.filters["printable"] = printable  # a control character in the data shows as \x1b, as in the text report
    return env


_CODE = re.compile(r"`([^`]+)`")


def code_spans(text: object) -> Markup:
    """Plain text (escaped) whose `backticked` spans become <code>: view definitions and messages are
    written once for Markdown (docs/views.md), the terminal and this page."""
    return Markup(_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", str(html_escape(printable(str(text))))))


def json_island(report: ReportData) -> Markup:
    """The figures as JSON, safe inside <script>: `<`, `>` and `&` are written as \\u escapes, so no
    value can close the element."""
    text = output.dumps(report.to_dict(), indent=None)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return Markup(text)


def render_html(report: ReportData) -> str:
    sections = [ShownSection(s.key, s.section.heading, s.definitions, scope_text(report, s), s.empty,
                             s.section.empty, s.error, body(report, s)) for s in report.sections]
    context: dict[str, Any] = {"report": report, "sections": sections, "version": __version__,
                               "data": json_island(report)}
    return _environment().get_template("report.html.j2").render(**context)
