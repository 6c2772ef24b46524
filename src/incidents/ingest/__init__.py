"""Monitoring alerts in: parse, land in raw_alerts in bulk, then one set-based pass that opens,
deduplicates and resolves incidents (templates/ingest/*.sql.j2, a fixed number of statements).

Rules (README, "Alerts in"):
- one incident per alert episode: one firing run of a fingerprint. The distinct endsAt of its
  resolutions cut a fingerprint's notifications into episodes by their startsAt, so a startsAt
  that Alertmanager moves stays in its episode and a firing after a resolution opens a new one
  (templates/ingest/episodes.sql.j2).
- identical notifications (Alertmanager's re-sends, a file ingested twice) are one event; a
  firing that differs (new annotation values) while the episode is known adds a system comment
  with the count.
- a resolved alert resolves the incident (mitigated_at = resolved_at = the episode's end) with a
  status history row and a comment by the system user, unless a person took it over (status moved
  off what ingest set, or an assignee set): then only a comment is added.
- the state is derived from every raw alert of the fingerprint, so order does not matter and a
  re-ingest changes nothing; the writes of a pass are one transaction, so a pass cut short leaves
  nothing half done, and the next pass does all of it.
- input is read as a stream and landed in chunks: memory does not grow with the input.
- Grafana Alerting and PagerDuty v3 webhooks (`-i grafana`, `pagerduty`, or found by `auto`) are
  mapped to Alertmanager-shaped alerts first (vendors.py); PagerDuty events that open and resolve
  nothing (acknowledged, annotated...) are counted as `ignored` and land no row.
- change events (deploys: `-i changes`, `github-deployment`, `pagerduty-change`, or found by `auto`)
  land in raw_changes the same way and are merged into change_events by change key (changes.py,
  templates/ingest/changes.sql.j2).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from incidents.errors import ConfigError, NotDeployedError, TargetError
from incidents.ingest.changes import CHANGE_COLUMNS, CHANGE_FORMATS, ChangeReader, is_change
from incidents.ingest.parse import (
    COLUMNS,
    FORMATS,
    MAX_DOCUMENT_CHARS,
    AlertReader,
    Document,
    InputTooLarge,
    Row,
    read_documents,
    stream_blocks,
    text_blocks,
)
from incidents.kinds.procedure import PASS_WRITES, ingest_pass
from incidents.project.deployment import Deployment
from incidents.project.ingest import IngestConfig, ingest_file_exists, load_ingest_config
from incidents.sql.session import Session
from incidents.sql.text import literal

CHUNK_ROWS = 25_000  # raw_alerts rows landed at a time: bounds memory whatever the input size
MAX_INPUT_CHARS = 4 * 1024**3  # one ingest call reads at most this much (~20M alerts), then stops
GARBAGE_DOCUMENTS = 1000  # this many documents in and not one alert: the input is not alert JSON
PASS_ALERTS = 250_000  # a load is taken in one pass per this many alerts (a share of its fingerprints each)


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
    grouped: int = 0  # alert episodes that joined the incident of their group (config/ingest.yml grouping)
    seconds: float = 0.0
    errors: tuple[str, ...] = field(default_factory=tuple)
    stopped: str | None = None  # why reading stopped before the end of the input (what came before is ingested)
    changes: int = 0  # change events landed in raw_changes and merged into change_events (malformed ones count above)
    ignored: int = 0  # vendor events that open and resolve nothing (PagerDuty acknowledged...): read, not landed


def now_utc() -> dt.datetime:
    """Naive UTC with microseconds: every TIMESTAMP_NTZ column holds UTC wall-clock time."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def ingest_text(session: Session, dep: Deployment, text: Any, fmt: str = "auto",
                *, cfg: IngestConfig | None = None, name: str = "<input>") -> IngestReport:
    """Parse `text` (a str, bytes, or a binary stream read in blocks), land every alert (malformed
    ones with their error) in bulk, chunk by chunk, and run the pass over the fingerprints it touched."""
    if fmt not in (*FORMATS, *CHANGE_FORMATS):
        raise ConfigError(f"unknown format {fmt!r}; expected one of {', '.join((*FORMATS, *CHANGE_FORMATS))}",
                          key="--format")
    blocks = stream_blocks(text) if hasattr(text, "read") else text_blocks(text)
    return ingest_blocks(session, dep, blocks, fmt, cfg=cfg, name=name)


def ingest_blocks(session: Session, dep: Deployment, blocks: Iterable[str], fmt: str = "auto",
                  *, cfg: IngestConfig | None = None, name: str = "<input>", chunk_rows: int = CHUNK_ROWS,
                  max_chars: int = MAX_INPUT_CHARS) -> IngestReport:
    return _ingest_blocks(session, dep, blocks, fmt, cfg or load_ingest_config(dep.project), name, chunk_rows,
                          max_chars)


def _ingest_blocks(session: Session, dep: Deployment, blocks: Iterable[str], fmt: str,
                   cfg: IngestConfig, name: str, chunk_rows: int, max_chars: int) -> IngestReport:
    began = time.perf_counter()
    now, load_id = now_utc(), str(uuid.uuid4())
    reader, changes = AlertReader(fmt, now, severity_label=cfg.severity_label), ChangeReader(fmt, now)
    runner = Pass(session, dep, cfg, now)
    lander: Lander | None = None
    change_lander: Lander | None = None
    pending: list[Row] = []
    change_rows: list[Row] = []
    stopped = None
    try:
        for doc in read_documents(_limited(blocks, max_chars), max_chars=MAX_DOCUMENT_CHARS):
            if _is_change(fmt, doc):
                change_rows += changes.rows(doc)
            else:
                pending += reader.rows(doc)
            if (reader.documents + changes.documents == GARBAGE_DOCUMENTS
                    and reader.alerts + reader.ignored + changes.changes == 0
                    and lander is None and change_lander is None):
                first = (reader.errors or changes.errors or ["?"])[0]
                raise ConfigError(f"not one alert in the first {GARBAGE_DOCUMENTS:,} documents, nor a change (first: "
                                  f"{first}); is this alert JSON? Nothing was landed", file=name)
            if len(pending) >= chunk_rows:
                lander = lander or Lander(runner, load_id)
                lander.land(pending)
                pending = []
            if len(change_rows) >= chunk_rows:
                change_lander = change_lander or Lander(runner, load_id, table="raw_changes")
                change_lander.land(change_rows)
                change_rows = []
    except (InputTooLarge, InputLimit) as exc:
        stopped = str(exc)
        if fmt in CHANGE_FORMATS:
            change_rows.append(changes.stopped_row(stopped))
        else:
            pending.append(reader.stopped_row(stopped))
    if reader.documents + changes.documents == 0 and stopped is None:
        raise ConfigError("no alert documents: the input is empty", file=name)
    if pending or lander is not None or not change_rows:
        lander = lander or Lander(runner, load_id)
        try:
            lander.land(pending)
        finally:
            lander.close()
    if change_rows or change_lander is not None:
        change_lander = change_lander or Lander(runner, load_id, table="raw_changes")
        try:
            change_lander.land(change_rows)
        finally:
            change_lander.close()
    counts = runner.run(load_id, groups=-(-reader.alerts // PASS_ALERTS)) if reader.alerts else {}
    refresh_materialized(session, dep, load_id, counts)
    if changes.changes:
        merge_changes(session, dep, load_id)
    return IngestReport(load_id, reader.documents + changes.documents, reader.alerts,
                        reader.malformed + changes.malformed, seconds=time.perf_counter() - began,
                        errors=tuple([*reader.errors, *changes.errors][:5]), stopped=stopped, changes=changes.changes,
                        ignored=reader.ignored, **counts)


def _is_change(fmt: str, doc: Document) -> bool:
    """Whether a document goes to raw_changes: every one under a change format; under auto, one whose keys
    say it is a change event (a document that is not JSON stays with the alerts)."""
    return fmt in CHANGE_FORMATS or (fmt == "auto" and doc.problem is None and is_change(doc.value))


def merge_changes(session: Session, dep: Deployment, load_id: str) -> None:
    """The changes the load reported on, into change_events (one MERGE: all or nothing, idempotent)."""
    session.execute(dep.sql("ingest/changes", load_id=load_id), obj="change_events")


def store_changes(session: Session, dep: Deployment, rows: list[Row]) -> dict[str, Any]:
    """The receiver's flush for POST /changes: parsed change rows landed in one load, then merged."""
    load_id = str(uuid.uuid4())
    lander = Lander(Pass(session, dep, load_ingest_config(dep.project), now_utc()), load_id, table="raw_changes")
    try:
        lander.land(rows)
    finally:
        lander.close()
    if any(r[-1] is None for r in rows):
        merge_changes(session, dep, load_id)
    return {"load_id": load_id}


def statements_to_validate(dep: Deployment) -> list[tuple[str, str]]:
    """(source, statement) of the pass as `incidents ingest` sends it (a large load's share included), for
    `validate`; loading config/ingest.yml here makes its errors validate's. The intake procedure's form is
    validated with the procedure."""
    if not ingest_file_exists(dep.project.root):
        return []
    cfg = load_ingest_config(dep.project)
    return [("templates/ingest/", ingest_pass(dep, cfg, name, now_sql="SYSDATE()", qualified=True,
                                             load_id="validate", group=0, groups=2).strip())
            for name in ("missing_categories", "system_user_adopt", "system_user", "episodes", "summary",
                         *PASS_WRITES, "drop_episodes")]


class InputLimit(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the input is longer than {limit // 1024**3} GiB; stopped reading there (split it, or use "
                         "`incidents receive` for a feed that does not end)")


def _limited(blocks: Iterable[str], limit: int) -> Iterator[str]:
    read = 0
    for block in blocks:
        read += len(block)
        if read > limit:
            raise InputLimit(limit)
        yield block


def store_batch(session: Session, dep: Deployment, rows: list[Row], *,
                cfg: IngestConfig | None = None) -> dict[str, Any]:
    """The receiver's flush: rows already parsed (malformed ones with their error) landed in one
    load, then the pass. Returns the load id and the pass's counts."""
    cfg = cfg or load_ingest_config(dep.project)
    now, load_id = now_utc(), str(uuid.uuid4())
    runner = Pass(session, dep, cfg, now)
    lander = Lander(runner, load_id)
    try:
        lander.land(rows)
    finally:
        lander.close()
    counts = runner.run(load_id) if any(r[12] is None for r in rows) else {}
    refresh_materialized(session, dep, load_id, counts)
    return {"load_id": load_id, **counts}


def refresh_materialized(session: Session, dep: Deployment, load_id: str, counts: dict[str, int]) -> None:
    """The local target's materialized views after a pass that changed incidents: by incident (the
    incidents of the load's episodes) where a view allows it, else whole. Snowflake refreshes its
    dynamic tables itself."""
    if not any(counts.get(key) for key in ("opened", "resolved", "repeated", "noted", "grouped")):
        return
    from incidents.kinds.dynamic_table import refresh

    refresh(session, dep, incidents=dep.render("ingest/touched_incidents.sql.j2", load_id=load_id))


class Lander:
    """Lands chunks of rows of one load through seed's bulk loader: write_pandas straight into the
    table on the local target; on Snowflake Parquet -> stage -> one INSERT ... SELECT with PARSE_JSON
    (staged defaults to that; tests force it on fakesnow to run its SQL)."""

    def __init__(self, runner: Pass, load_id: str, *, staged: bool | None = None, table: str = "raw_alerts") -> None:
        from incidents.seed.load import Loader

        if table == "raw_alerts":
            runner.prepare()  # before anything lands: the schema and the categories are there
        self.load_id, self.next_index, self.table = load_id, 0, table
        self.columns = COLUMNS if table == "raw_alerts" else CHANGE_COLUMNS
        self.loader = Loader(runner.session, runner.dep, tables=(table,), staged=staged)

    def land(self, rows: list[Row]) -> None:
        if not rows:
            return
        for i, row in enumerate(rows, start=self.next_index):
            row[0], row[1] = self.load_id, i
        self.next_index += len(rows)
        with self.loader.session.bulk_load():  # the local target keeps at most 400 MB of written blocks cached
            self.loader.write(self.table, frame(rows, self.columns))

    def close(self) -> None:
        self.loader.drop_stages()


def frame(rows: list[Row], columns: tuple[str, ...] = COLUMNS) -> Any:
    """raw_alerts rows as a DataFrame. Every time was checked to lie in 1970-2199 (times.EARLIEST,
    LATEST), so the conversion to pandas' nanosecond timestamps cannot overflow. Texts are Arrow
    strings: the loaders read them without a per-value pass in Python."""
    import pandas as pd

    values_by_column = list(zip(*rows, strict=True))
    data: dict[str, Any] = {}
    for name, values in zip(columns, values_by_column, strict=True):
        if name in ("STARTS_AT", "ENDS_AT", "RECEIVED_AT", "CHANGED_AT"):
            data[name] = pd.to_datetime(pd.Series(values, dtype=object))
        elif name in ("ALERT_INDEX", "CHANGE_INDEX"):
            data[name] = pd.Series(values, dtype="int64")
        else:
            data[name] = pd.Series(values, dtype="string[pyarrow]")
    return pd.DataFrame(data)


def land(session: Session, dep: Deployment, rows: list[dict[str, Any]],
         *, staged: bool | None = None) -> None:
    """Rows as parse() gives them (dicts with LOAD_ID and ALERT_INDEX set), in one bulk load."""
    from incidents.seed.load import Loader

    loader = Loader(session, dep, tables=("raw_alerts",), staged=staged)
    try:
        loader.write("raw_alerts", frame([[r[c] for c in COLUMNS] for r in rows]))
    finally:
        loader.drop_stages()


class Pass:
    """The set-based pass: a fixed list of statements whatever the number of alerts."""

    def __init__(self, session: Session, dep: Deployment, cfg: IngestConfig, now: dt.datetime) -> None:
        self.session, self.dep, self.cfg, self.now = session, dep, cfg, now
        self.prepared = False

    def sql(self, name: str, **extra: Any) -> str:
        return ingest_pass(self.dep, self.cfg, name, now_sql=literal(self.now),
                           qualified=self.session.backend != "local", **extra)

    def execute(self, name: str, **extra: Any) -> list[tuple[Any, ...]]:
        return self.session.execute(self.sql(name, **extra), obj=f"ingest {name}")[1]

    def prepare(self) -> None:
        """Refuse before landing anything when the schema or the categories are not there."""
        if self.prepared:
            return
        try:
            missing = [str(r[0]) for r in self.execute("missing_categories")]
        except TargetError as exc:
            raise NotDeployedError(f"cannot read incident_categories ({exc}); run `incidents deploy` first") from None
        if missing:
            raise ConfigError(f"category code(s) {', '.join(missing)} are not in incident_categories; add them "
                              "(or run `incidents seed`) or change the mapping", file="config/ingest.yml",
                              key="categories")
        self.prepared = True

    def run(self, load_id: str, *, groups: int = 1) -> dict[str, int]:
        """The pass over the fingerprints of a load, in `groups` passes of a share of them each (the
        same result as one: fingerprints are independent), each its own transaction."""
        self.execute("system_user_adopt")
        self.execute("system_user")
        totals = dict.fromkeys(("episodes", "opened", "resolved", "repeated", "noted", "grouped"), 0)
        for group in range(max(1, groups)):
            self.execute("drop_episodes")
            self.execute("episodes", load_id=load_id, group=group, groups=max(1, groups))
            try:
                *counts, work = (int(v or 0) for v in self.execute("summary")[0])
                if work:
                    self._write()
            finally:
                self.execute("drop_episodes")
            for key, value in zip(totals, counts, strict=True):
                totals[key] += value
        return totals

    def _write(self) -> None:
        """The writes, all or nothing."""
        self.execute("begin")
        try:
            for name in PASS_WRITES:
                self.execute(name)
            self.execute("commit")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # If the connection is gone, the database rolls the transaction back itself.
        with contextlib.suppress(Exception):
            self.execute("rollback")
