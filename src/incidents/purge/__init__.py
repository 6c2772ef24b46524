"""`incidents purge`: delete the rows each table's `retention:` says have expired.

One COUNT statement for every retained table, then one DELETE per table, children first (config
refuses retention on a table that other tables reference, so no purge can orphan a row). Ages are
measured from one moment, taken once, so the dry run's counts and the purge's agree. The scheduled
purge procedure (kinds.procedure) runs the same DELETEs, measured from SYSDATE().
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from incidents.kinds.procedure import purge_statements, retained_tables
from incidents.output import JsonResult
from incidents.project.deployment import Deployment
from incidents.sql.session import Session
from incidents.sql.text import literal


@dataclass(frozen=True)
class PurgedTable:
    table: str
    days: int
    column: str
    rows: int


@dataclass(frozen=True)
class PurgeResult(JsonResult):
    env: str
    as_of: dt.datetime
    dry_run: bool
    tables: tuple[PurgedTable, ...]

    @property
    def total(self) -> int:
        return sum(t.rows for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "as_of": self.as_of.isoformat(sep=" "), "dry_run": self.dry_run,
                "total": self.total,
                "tables": [{"table": t.table, "retention_days": t.days, "column": t.column, "rows": t.rows}
                           for t in self.tables]}


def parse_as_of(value: dt.datetime | str | None) -> dt.datetime:
    """--as-of: an ISO date or timestamp (UTC); default now. Anything else is the user's mistake."""
    from incidents.errors import ConfigError

    if value is None:
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    else:
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(f"expected a date or timestamp as YYYY-MM-DD[ HH:MM:SS], got {value!r}",
                              key="--as-of") from None
        moment = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed
    return moment


def in_the_future(moment: dt.datetime) -> bool:
    """Ages measured from a future moment make rows expire early (2062 typed for 2026 would delete every
    retained row): such a purge needs an explicit --yes."""
    return moment > dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=1)


def purge(session: Session, dep: Deployment, *, as_of: dt.datetime, dry_run: bool = False) -> PurgeResult:
    tables = retained_tables(dep)
    if not tables:
        return PurgeResult(dep.env.name, as_of, dry_run, ())
    now_sql = literal(as_of)
    rows = session.query(dep.sql("purge/count", tables=tables, now_sql=now_sql), obj="purge")
    counts = {str(r["TABLE_NAME"]): int(r["EXPIRED_ROWS"]) for r in rows}
    if not dry_run:
        for table, statement in purge_statements(dep, now_sql=now_sql):
            if counts.get(table.name):  # nothing expired: no DELETE to send
                session.execute(statement, obj=f"table {table.name}")
    return PurgeResult(dep.env.name, as_of, dry_run, tuple(
        PurgedTable(t.name, t.retention.days, t.retention.column, counts.get(t.name, 0))
        for t in tables if t.retention))
