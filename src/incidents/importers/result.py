"""The typed result of one import (`Workspace.import_`, `incidents import ... --format json`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from incidents.output import JsonResult


@dataclass(frozen=True)
class Fallback:
    """A source value no mapping lists (None: missing) and how many incidents got the default for it."""

    field: str
    value: str | None
    incidents: int

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "incidents": self.incidents}


@dataclass(frozen=True)
class ImportResult(JsonResult):
    env: str
    where: str
    source: str  # servicenow | jira
    file: str
    load_id: str
    date_order: str  # servicenow: day-first, month-first, iso or the strptime pattern used; jira: iso
    rows: int  # CSV rows, or Jira events (creation, changelog entries, final state) read
    rejected: int  # rows landed with an error and not imported (see `errors`)
    incidents: int  # incidents the load touched
    inserted: int
    updated: int
    unchanged: int
    status_rows: int  # status history rows inserted or updated
    assignment_rows: int
    removed_rows: int  # imported history rows the events no longer give, removed
    people: int  # people named in the file
    people_inserted: int
    superseded: int  # rows of earlier imports replaced by this one's landing of the same events
    truncated_changelogs: int  # Jira issues whose changelog the export cut short (their history is partial)
    seconds: float
    fallbacks: tuple[Fallback, ...] = ()
    errors: tuple[str, ...] = field(default_factory=tuple)  # the first rejected rows, why

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "source": self.source, "file": self.file, "load_id": self.load_id,
                "date_order": self.date_order, "rows": self.rows, "rejected": self.rejected,
                "incidents": self.incidents, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "status_rows": self.status_rows, "assignment_rows": self.assignment_rows,
                "removed_rows": self.removed_rows, "people": self.people, "people_inserted": self.people_inserted,
                "superseded": self.superseded, "truncated_changelogs": self.truncated_changelogs,
                "seconds": round(self.seconds, 3), "fallbacks": [f.to_dict() for f in self.fallbacks],
                "errors": list(self.errors)}
