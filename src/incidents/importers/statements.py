"""The set-based pass of an import: a fixed list of statements (templates/import/*.sql.j2) over what
one load landed, whatever the number of rows. Temporary tables hold the touched incidents, their
events, their final state and their status changes between statements; they are dropped at the end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from incidents.errors import ConfigError, NotDeployedError, TargetError
from incidents.importers.config import SourceConfig
from incidents.project.deployment import Deployment
from incidents.sql import identifiers
from incidents.sql.session import Session
from incidents.sql.text import literal

TEMP_TABLES = {"batch": "import_batch", "events": "import_events", "final": "import_final",
               "changes": "import_changes", "rows": "import_incident_rows"}
# In order. Each name is a template; the MERGEs and DELETEs report the rows they touched.
STEPS = ("system_user", "conflicts", "batch", "supersede", "people", "events", "final", "status_changes",
         "incident_rows", "incidents", "status_history_stale", "status_history", "assignment_history_stale",
         "assignment_history")
SYSTEM_NAMES = {"servicenow": "ServiceNow import (system)", "jira": "Jira import (system)"}


@dataclass(frozen=True)
class PassCounts:
    incidents: int = 0  # touched: every incident with an event in this load
    inserted: int = 0
    updated: int = 0
    status_rows: int = 0  # status history rows inserted or updated
    assignment_rows: int = 0
    removed_rows: int = 0  # imported history rows the events no longer give
    people_inserted: int = 0
    superseded: int = 0  # earlier landings of events this load landed again
    conflicts: int = 0  # rows refused: their number belongs to an incident not imported from them
    conflict_errors: tuple[str, ...] = ()
    fallbacks: tuple[tuple[str, str | None, int], ...] = ()  # (field, source value or None, incidents)


class ImportPass:
    def __init__(self, session: Session, dep: Deployment, cfg: SourceConfig, now: dt.datetime, load_id: str) -> None:
        self.session, self.dep, self.cfg = session, dep, cfg
        self.now, self.load_id = now, load_id

    def table(self, name: str) -> str:
        return temporary_table(self.dep, name, qualified=self.session.backend != "local")

    def sql(self, name: str, **extra: Any) -> str:
        return render_step(self.dep, self.cfg, name, now_sql=literal(self.now), load_id=self.load_id,
                           qualified=self.session.backend != "local", **extra)

    def execute(self, name: str, **extra: Any) -> list[tuple[Any, ...]]:
        return self.session.execute(self.sql(name, **extra), obj=f"import {name}")[1]

    def prepare(self) -> None:
        """Refuse before landing anything when the schema or the mapped category codes are not there."""
        try:
            missing = [str(r[0]) for r in self.execute("missing_categories")]
        except TargetError as exc:
            raise NotDeployedError(f"cannot read incident_categories ({exc}); run `incidents deploy` first") from None
        if missing:
            raise ConfigError(f"category code(s) {', '.join(missing)} are not in incident_categories; add them (or "
                              "run `incidents seed`) or change the mapping", file="config/import.yml",
                              key=f"{self.cfg.name}.categories")

    def drop_temporary(self) -> None:
        for name in TEMP_TABLES.values():
            self.session.execute(self.sql("drop", table=self.table(name)), obj=f"import drop {name}")

    def run(self, on_step: Callable[[int, int, str], None] | None = None) -> PassCounts:
        """Every step in order (the temporary tables dropped before and after), then the fallbacks."""
        done: dict[str, list[tuple[Any, ...]]] = {}
        self.drop_temporary()
        try:
            for i, name in enumerate(STEPS):
                if on_step is not None:
                    on_step(i, len(STEPS), name)
                done[name] = self.execute(name)
            incidents = self.execute("touched")
            fallbacks = tuple((str(f), None if v is None else str(v), int(n)) for f, v, n in self.execute("fallbacks"))
            conflicts = _count(done["conflicts"])
            errors = self.conflict_errors() if conflicts else ()
        finally:
            self.drop_temporary()
        if on_step is not None:
            on_step(len(STEPS), len(STEPS), "done")
        inserted, updated = _merged(done["incidents"])
        return PassCounts(
            incidents=int(incidents[0][0]), inserted=inserted, updated=updated,
            status_rows=sum(_merged(done["status_history"])), assignment_rows=sum(_merged(done["assignment_history"])),
            removed_rows=_count(done["status_history_stale"]) + _count(done["assignment_history_stale"]),
            people_inserted=_merged(done["people"])[0], superseded=_count(done["supersede"]), conflicts=conflicts,
            conflict_errors=errors, fallbacks=fallbacks)

    def conflict_errors(self) -> tuple[str, ...]:
        rows = self.execute("conflict_errors")
        return tuple(f"row {r}: {e}" for r, e in rows)


def temporary_table(dep: Deployment, name: str, *, qualified: bool) -> str:
    """A temporary table's name: qualified except on the local target (fakesnow refuses a qualified
    temporary table name)."""
    return dep.fq(name) if qualified else identifiers.quote(name)


def render_step(dep: Deployment, cfg: SourceConfig, name: str, *, now_sql: str, load_id: str, qualified: bool,
                **extra: Any) -> str:
    """One statement of the pass (templates/import/<name>.sql.j2)."""
    temps = {key: temporary_table(dep, value, qualified=qualified) for key, value in TEMP_TABLES.items()}
    return dep.render(f"import/{name}.sql.j2", cfg=cfg, now_sql=now_sql, load_id=load_id,
                      system_email=f"import-{cfg.name}@system.incidents.invalid", system_name=SYSTEM_NAMES[cfg.name],
                      **temps, **extra)


def statements_to_validate(dep: Deployment) -> list[tuple[str, str]]:
    """(source, statement) of every statement an import can send, for both sources, as sent to Snowflake
    (what `incidents validate` parses); none without config/import.yml; its problems are ConfigErrors."""
    from incidents.importers.config import IMPORT_FILE, SOURCES, load_import_config

    if not (dep.project.root / IMPORT_FILE).is_file():
        return []
    config = load_import_config(dep.project)
    out = []
    for source in SOURCES:
        cfg = config.source(source)
        for name in ("missing_categories", *STEPS, "touched", "fallbacks", "conflict_errors"):
            out.append(render_step(dep, cfg, name, now_sql="SYSDATE()", load_id="validate", qualified=True))
        out.extend(render_step(dep, cfg, "drop", now_sql="SYSDATE()", load_id="validate", qualified=True,
                               table=temporary_table(dep, table, qualified=True)) for table in TEMP_TABLES.values())
    return [("templates/import/", statement) for statement in out]


def _count(rows: list[tuple[Any, ...]]) -> int:
    """The row count a DML statement reports (its first column), 0 when it reports none."""
    return int(rows[0][0] or 0) if rows and rows[0] else 0


def _merged(rows: list[tuple[Any, ...]]) -> tuple[int, int]:
    """(inserted, updated) as MERGE reports them; both backends answer one row of counts."""
    if not rows or not rows[0]:
        return 0, 0
    values = [int(v or 0) for v in rows[0]]
    return (values[0], values[1] if len(values) > 1 else 0)
