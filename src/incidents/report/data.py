"""The report's figures: the period and every section's rows, exactly as the views gave them.
Data only: the renderings (html.py, text.py) read it, and result.py puts the two together, so no
module of the package imports one that imports it back."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
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
    error: str | None = None                  # why the section's query failed; it then has no rows

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
        if self.error or not self.rows:
            return True
        if measure is None:
            return False
        i = self.columns.index(measure)
        return not any(row[i] for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "heading": self.section.heading, "scope": self.section.scope,
                "views": [{"name": v, "definition": d} for v, d in self.definitions],
                "empty": self.empty, "error": self.error, "columns": list(self.columns),
                "rows": [list(r) for r in self.rows]}


@dataclass(frozen=True)
class ReportData(JsonResult):
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

    @property
    def errors(self) -> list[str]:
        """One line per section whose query failed (the report shows the rest)."""
        return [f"{s.section.heading}: {s.error}" for s in self.sections if s.error]

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "database": self.database, "schema": self.schema, "currency": self.currency,
                "generated_at": self.generated_at.isoformat(timespec="seconds"),
                "period": {**self.period.to_dict(), "previous": self.period.previous.to_dict()},
                "trend": self.trend.to_dict(), "incidents": self.incidents,
                "sections": [s.to_dict() for s in self.sections]}


def number(value: Any) -> float | None:
    """A figure as a float for drawing (never for computing a figure); None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    return None
