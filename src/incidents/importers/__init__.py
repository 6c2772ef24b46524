"""Ticketing history in: ServiceNow and Jira Service Management exports -> incidents, their status and
assignment history and the people in them (README, "Importing history").

1. Read the file a block at a time (bounded memory) into landing rows (servicenow.py, jira.py) and
   bulk-load every block into raw_import_rows through seed's Loader, then the people named into
   raw_import_people. Rows that cannot make an incident land with their error.
2. One set-based pass (statements.py, templates/import/*.sql.j2, a fixed number of statements): the
   touched incidents are derived again from every event ever landed for them, mapped through
   config/import.yml, and merged by source key; so importing the same or an overlapping export again
   changes nothing, and a later export updates what changed.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from incidents.errors import ConfigError
from incidents.importers.config import SOURCES, check_date_format, load_import_config
from incidents.importers.landing import PEOPLE_TABLE, ROWS_TABLE, People
from incidents.importers.result import Fallback, ImportResult
from incidents.importers.statements import ImportPass
from incidents.project.deployment import Deployment
from incidents.sql.session import Session

if TYPE_CHECKING:
    import pyarrow as pa

# phase ("read" | "pass"), done, total, detail: bytes of the file while reading, steps during the pass.
ProgressFn = Callable[[str, int, int, str], None]


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def import_file(session: Session, dep: Deployment, source: str, path: str | Path, *,
                date_format: str | None = None, where: str = "", on_progress: ProgressFn | None = None,
                staged: bool | None = None) -> ImportResult:
    """Import one export file of `source` (servicenow | jira); see the module's docstring. `staged`
    picks the loader's strategy (default: staged on Snowflake; tests force it on fakesnow)."""
    began = time.perf_counter()
    project, env = dep.project, dep.env
    if source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}", key="SOURCE")
    file = Path(path)
    if not file.is_file():
        raise ConfigError("no such file", file=str(file))
    cfg = load_import_config(project).source(source)
    for table in (ROWS_TABLE, PEOPLE_TABLE):
        if project.table(table) is None:
            raise ConfigError(f"importing needs the landing table {table}; copy config/tables/{table}.yml from the "
                              "example project (`incidents init`) and run `incidents deploy`", key=table)
    order = check_date_format(date_format, lambda m: ConfigError(m, key="--date-format")) if date_format else None
    now, load_id = now_utc(), str(uuid.uuid4())
    runner = ImportPass(session, dep, cfg, now, load_id)
    runner.prepare()
    common = {"load_id": load_id, "landed_at": now, "source": source, "file_name": file.name}
    people = People(source)
    reading, batches = _reader(source, file, cfg, common, people, order or cfg.date_format, on_progress)
    _land(session, dep, batches, lambda: people.table(load_id), staged=staged)
    counts = runner.run(None if on_progress is None else lambda i, n, name: on_progress("pass", i, n, name))
    if counts.inserted or counts.updated or counts.status_rows or counts.assignment_rows or counts.removed_rows:
        refresh_materialized(session, dep, load_id)
    errors = tuple((reading.errors or []) + list(counts.conflict_errors))[:5]
    return ImportResult(
        env=env.name, where=where, source=source, file=str(file), load_id=load_id, date_order=reading.order,
        rows=reading.rows, rejected=reading.rejected + counts.conflicts, incidents=counts.incidents,
        inserted=counts.inserted, updated=counts.updated,
        unchanged=max(counts.incidents - counts.inserted - counts.updated, 0), status_rows=counts.status_rows,
        assignment_rows=counts.assignment_rows, removed_rows=counts.removed_rows, people=len(people.names),
        people_inserted=counts.people_inserted, superseded=counts.superseded,
        truncated_changelogs=getattr(reading, "truncated", 0), seconds=time.perf_counter() - began,
        fallbacks=tuple(Fallback(*f) for f in counts.fallbacks), errors=errors)


def refresh_materialized(session: Session, dep: Deployment, load_id: str) -> None:
    """The local target's materialized views after a pass: by incident (those of the load's records) where
    a view allows it, else whole. Snowflake refreshes its dynamic tables itself."""
    from incidents.kinds.dynamic_table import refresh

    refresh(session, dep, incidents=dep.render("import/touched_incidents.sql.j2", load_id=load_id))


def _reader(source: str, file: Path, cfg: Any, common: dict[str, Any], people: People, date_format: str,
            on_progress: ProgressFn | None) -> tuple[Any, Iterator[pa.Table]]:
    def progress(reading: Any) -> None:
        if on_progress is not None:
            on_progress("read", reading.bytes_read, reading.size, f"{reading.rows:,} rows")

    if source == "servicenow":
        from incidents.importers import servicenow

        reading = servicenow.Reading()
        return reading, servicenow.read(file, load=common, people=people, date_format=date_format,
                                        timezone=cfg.timezone, reading=reading, on_batch=progress)
    from incidents.importers import jira

    jreading = jira.Reading()
    return jreading, jira.read(file, load=common, people=people, cfg=cfg, reading=jreading, on_batch=progress)


def _land(session: Session, dep: Deployment, batches: Iterator[pa.Table],
          people: Callable[[], pa.Table], *, staged: bool | None = None) -> None:
    """Every batch, then the people, through seed's bulk loader (write_pandas locally; stage + one
    INSERT ... SELECT on Snowflake), never row by row."""
    import pandas as pd

    from incidents.seed.load import Loader

    loader = Loader(session, dep, tables=(ROWS_TABLE, PEOPLE_TABLE), staged=staged)

    def frame(table: pa.Table) -> pd.DataFrame:
        df = table.to_pandas(types_mapper=pd.ArrowDtype)
        df.columns = [c.upper() for c in df.columns]
        return df

    try:
        with session.bulk_load():
            for batch in prefetched(batches):
                loader.write(ROWS_TABLE, frame(batch))
            loader.write(PEOPLE_TABLE, frame(people()))  # complete once every batch is read
    finally:
        loader.drop_stages()


def prefetched(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """`items`, produced in a thread up to `depth` ahead: the next block is parsed (Arrow kernels, which
    release the GIL) while this one loads (DuckDB or the connector, which do too). Memory stays at most
    depth + 2 blocks; an error in the producer is raised here."""
    import queue
    import threading

    done = object()
    box: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                box.put((True, item))
            box.put((True, done))
        except BaseException as exc:  # handed to the consumer, which raises it
            box.put((False, exc))

    worker = threading.Thread(target=produce, name="import-reader", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = box.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                box.get_nowait()
            except queue.Empty:
                worker.join(0.05)


__all__ = ["ImportResult", "import_file", "now_utc"]
