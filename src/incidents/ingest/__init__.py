"""Monitoring alerts in: parse, land in raw_alerts in bulk, then one set-based pass that opens,
deduplicates and resolves incidents (templates/ingest/*.sql.j2, a fixed number of statements).

Rules (README, "Alerts in"):
- one incident per alert episode: fingerprint + startsAt. A new firing after a resolution has a
  new startsAt, so it opens a new incident; the resolved one stays resolved.
- identical notifications (Alertmanager's re-sends, a file ingested twice) are one event; a
  firing that differs (new annotation values) while the episode is known adds a system comment
  with the count.
- a resolved alert resolves the incident (mitigated_at = resolved_at = endsAt) with a status
  history row and a comment by the system user, unless a person took it over (status moved
  past `new` or an assignee set): then only a comment is added.
- the state is derived from every raw alert of the episode, so order does not matter and a
  re-ingest changes nothing.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from incidents.errors import ConfigError, NotDeployedError, TargetError
from incidents.ingest.parse import FORMATS, Parsed, parse
from incidents.kinds.procedure import PASS_TEMPLATES, ingest_pass
from incidents.project.deployment import Deployment
from incidents.project.ingest import IngestConfig, load_ingest_config
from incidents.sql.session import Session
from incidents.sql.text import literal


@dataclass(frozen=True)
class IngestReport:
    load_id: str
    documents: int
    alerts: int
    malformed: int
    episodes: int = 0
    opened: int = 0
    resolved: int = 0
    repeated: int = 0
    noted: int = 0
    seconds: float = 0.0
    errors: tuple[str, ...] = field(default_factory=tuple)


def now_utc() -> dt.datetime:
    """Naive UTC with microseconds: every TIMESTAMP_NTZ column holds UTC wall-clock time."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def ingest_text(session: Session, dep: Deployment, text: str, fmt: str = "auto",
                *, cfg: IngestConfig | None = None) -> IngestReport:
    """Parse `text`, land every alert (malformed ones with their error) in one bulk load, and run
    the pass over the episodes it touched."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", key="--format")
    return ingest_parsed(session, dep, lambda now, load_id: parse(text, fmt, received_at=now, load_id=load_id),
                         cfg=cfg)


def ingest_parsed(session: Session, dep: Deployment, make: Callable[[dt.datetime, str], Parsed], *,
                  cfg: IngestConfig | None = None) -> IngestReport:
    """`make(received_at, load_id)` gives the rows; check, land them in one load, run the pass."""
    began = time.perf_counter()
    cfg = cfg or load_ingest_config(dep.project)
    now, load_id = now_utc(), str(uuid.uuid4())
    parsed: Parsed = make(now, load_id)
    runner = Pass(session, dep, cfg, now)
    if not parsed.rows:
        return IngestReport(load_id, parsed.documents, 0, 0, seconds=time.perf_counter() - began)
    runner.prepare()
    land(session, dep, parsed.rows)
    counts = runner.run(load_id) if parsed.alerts else {}
    if any(counts.get(key) for key in ("opened", "resolved", "repeated", "noted")):
        refresh_materialized(session, dep, load_id)
    return IngestReport(load_id, parsed.documents, parsed.alerts, parsed.malformed,
                        seconds=time.perf_counter() - began, errors=tuple(parsed.errors()), **counts)


def refresh_materialized(session: Session, dep: Deployment, load_id: str) -> None:
    """The local target's materialized views after a pass: by incident (the incidents of the load's
    episodes) where a view allows it, else whole. Snowflake refreshes its dynamic tables itself."""
    from incidents.kinds.dynamic_table import refresh

    refresh(session, dep, incidents=dep.render("ingest/touched_incidents.sql.j2", load_id=load_id))


def land(session: Session, dep: Deployment, rows: list[dict[str, Any]], *, staged: bool | None = None) -> None:
    """One bulk load into raw_alerts, through seed's loader: write_pandas straight into the table on
    the local target; on Snowflake Parquet -> stage -> one INSERT ... SELECT with PARSE_JSON (staged
    defaults to that; tests force it on fakesnow to run its SQL)."""
    import pandas as pd

    from incidents.seed.load import Loader

    loader = Loader(session, dep, tables=("raw_alerts",), staged=staged)
    frame = pd.DataFrame(rows)
    for column in ("STARTS_AT", "ENDS_AT", "RECEIVED_AT"):
        frame[column] = pd.to_datetime(frame[column])
    try:
        loader.write("raw_alerts", frame)
    finally:
        loader.drop_stages()


class Pass:
    """The set-based pass: a fixed list of statements whatever the number of alerts."""

    def __init__(self, session: Session, dep: Deployment, cfg: IngestConfig, now: dt.datetime) -> None:
        self.session, self.dep, self.cfg, self.now = session, dep, cfg, now

    def sql(self, name: str, **extra: Any) -> str:
        return ingest_pass(self.dep, self.cfg, name, now_sql=literal(self.now),
                           qualified=self.session.backend != "local", **extra)

    def execute(self, name: str, **extra: Any) -> list[tuple[Any, ...]]:
        return self.session.execute(self.sql(name, **extra), obj=f"ingest {name}")[1]

    def prepare(self) -> None:
        """Refuse before landing anything when the schema or the categories are not there."""
        try:
            missing = [str(r[0]) for r in self.execute("missing_categories")]
        except TargetError as exc:
            raise NotDeployedError(f"cannot read incident_categories ({exc}); run `incidents deploy` first") from None
        if missing:
            raise ConfigError(f"category code(s) {', '.join(missing)} are not in incident_categories; add them "
                              "(or run `incidents seed`) or change the mapping", file="config/ingest.yml",
                              key="categories")

    def run(self, load_id: str | None, window_minutes: int | None = None) -> dict[str, int]:
        self.execute("system_user")
        self.execute("drop_episodes")
        self.execute("episodes", load_id=load_id, window_minutes=window_minutes)
        try:
            episodes, opened, resolved, repeated, noted = (int(v or 0) for v in self.execute("summary")[0])
            if opened or resolved or repeated or noted:
                for name in PASS_TEMPLATES:
                    self.execute(name)
        finally:
            self.execute("drop_episodes")
        return {"episodes": episodes, "opened": opened, "resolved": resolved, "repeated": repeated, "noted": noted}
