"""What `Workspace.report()` returns: the period and every section's rows, exactly as the views
gave them, with renderings to HTML and text."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from incidents.output import JsonResult
from incidents.report.period import Period, TrendWindow
from incidents.report.sections import Section


@dataclass(frozen=True)
class SectionResult:
    section: Section
    definitions: tuple[tuple[str, str], ...]  # (view, its one-line definition from config/views.yml)
    columns: tuple[str, ...]                  # lower case, as in views.yml
    rows: tuple[tuple[Any, ...], ...]
    seconds: float

    @property
    def key(self) -> str:
        return self.section.key

    @property
    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    @property
    def empty(self) -> bool:
        """No rows, or (for sections whose views list every category / cell / priority) no row with
        a non-zero measure."""
        measure = self.section.measure
        if not self.rows:
            return True
        if measure is None:
            return False
        i = self.columns.index(measure)
        return not any(row[i] for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "heading": self.section.heading, "scope": self.section.scope,
                "views": [{"name": v, "definition": d} for v, d in self.definitions],
                "empty": self.empty, "columns": list(self.columns), "rows": [list(r) for r in self.rows]}


@dataclass(frozen=True)
class ReportResult(JsonResult):
    env: str
    where: str
    database: str
    schema: str
    currency: str
    period: Period
    trend: TrendWindow
    incidents: int             # in the whole warehouse
    generated_at: dt.datetime  # UTC
    sections: tuple[SectionResult, ...]
    seconds: float

    def section(self, key: str) -> SectionResult:
        return next(s for s in self.sections if s.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "database": self.database, "schema": self.schema, "currency": self.currency,
                "generated_at": self.generated_at.isoformat(timespec="seconds"),
                "period": {**self.period.to_dict(), "previous": self.period.previous.to_dict()},
                "trend": self.trend.to_dict(), "incidents": self.incidents,
                "sections": [s.to_dict() for s in self.sections]}

    def to_html(self) -> str:
        from incidents.report.html import render_html

        return render_html(self)

    def to_text(self, width: int = 100) -> str:
        from incidents.report.text import render_text

        return render_text(self, width=width)

    def write(self, path: str | Path, fmt: str = "html") -> int:
        """Write the report as html or text; return its size in bytes."""
        data = (self.to_html() if fmt == "html" else self.to_text()).encode("utf-8")
        Path(path).write_bytes(data)
        return len(data)


def number(value: Any) -> float | None:
    """A figure as a float for drawing (never for computing a figure); None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    return None
