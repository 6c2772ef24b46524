"""What `Workspace.report()` returns: the report's figures (data.py) with their renderings to HTML
and text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from incidents.report.data import ReportData
from incidents.report.html import render_html
from incidents.report.text import render_text


@dataclass(frozen=True)
class ReportResult(ReportData):
    def to_html(self) -> str:
        return render_html(self)

    def to_text(self, width: int = 100) -> str:
        return render_text(self, width=width)

    def write(self, path: str | Path, fmt: str = "html") -> int:
        """Write the report as html or text; return its size in bytes."""
        data = (self.to_html() if fmt == "html" else self.to_text()).encode("utf-8")
        Path(path).write_bytes(data)
        return len(data)
