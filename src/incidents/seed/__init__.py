"""`incidents seed`: a realistic, deterministic incident history at any scale, bulk-loaded.

Same options -> byte-identical rows on every run and backend. The data is generated relative to
the window end: `as_of` (the data's "now") is the midnight after `end`, so open incidents are open
as of that moment and nothing is timestamped later. Without --end the window ends today (UTC), so
the data moves with the calendar day; pass --end for a fixed data set.

numpy, pandas and pyarrow are imported by the submodules only: `import incidents.seed` is cheap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from incidents.errors import ConfigError, NotDeployedError, TablesNotEmptyError
from incidents.project.deployment import Deployment
from incidents.sql.session import Session

DEFAULT_DAYS = 365
MAX_DAYS = 3660


SAMPLE_FILE = "sql/03_sample_data.sql"  # the committed demo data set (sql/03_sample_data.sql)


@dataclass(frozen=True)
class SeedOptions:
    incidents: int = 5000
    random_seed: int = 42
    replace: bool = False
    start: dt.date | None = None  # default: end - 365 days
    end: dt.date | None = None  # default: today (UTC); the data is relative to it
    progress: bool = False  # rich progress bar per table with rows/s (only on a terminal)


@dataclass(frozen=True)
class SeedReport:
    rows: dict[str, int]  # table name -> rows loaded, in load order
    seconds: float  # checks, generation and load; not the delete of --replace
    delete_seconds: float = 0.0  # emptying the tables first (--replace)
    # "generate" (the time the load waited for generated data) and "load <table>" -> seconds
    phases: dict[str, float] = field(default_factory=dict)


def window(options: SeedOptions, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The (start, end) dates the options mean; raises ConfigError on a bad combination."""
    now = today or dt.datetime.now(dt.timezone.utc).date()
    end = options.end or now
    if end > now:
        raise ConfigError(f"--end {end} is in the future (today is {now} UTC); sample data never is", key="--end")
    start = options.start or end - dt.timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise ConfigError(f"--start {start} is after --end {end}", key="--start")
    if (end - start).days > MAX_DAYS:
        raise ConfigError(f"the window {start}..{end} is longer than {MAX_DAYS} days; shorten it", key="--start")
    return start, end


def seed(session: Session, dep: Deployment, options: SeedOptions) -> SeedReport:
    """Generate and bulk-load the sample history; refuse (changing nothing) if tables hold rows."""
    from incidents.seed.catalog import LIFECYCLE
    from incidents.seed.generate import Generator, Window
    from incidents.seed.load import Loader

    if options.incidents < 1:
        raise ConfigError(f"expected at least 1 incident, got {options.incidents}", key="--incidents")
    if dep.project.lifecycle != LIFECYCLE:
        raise ConfigError("the sample-data generator models the default lifecycle "
                          f"({', '.join(LIFECYCLE.statuses)}); this project declares another one, so seed "
                          "cannot generate believable history for it", file="config/project.yml", key="lifecycle")
    start, end = window(options)
    began = time.perf_counter()
    loader = Loader(session, dep, atomic=True)
    missing = loader.missing_tables()
    if missing:
        raise NotDeployedError(f"table(s) {', '.join(missing)} do not exist in {dep.database}.{dep.schema}; "
                               "run `incidents deploy` first")
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    generator = Generator(options.incidents, options.random_seed, Window(start, end, now=now))
    _check_categories(loader.categories(), generator.world.categories.codes())
    filled = {name: n for name, n in loader.row_counts().items() if n}
    if filled and not options.replace:
        listed = ", ".join(f"{name} ({n:,} rows)" for name, n in filled.items())
        raise TablesNotEmptyError(f"tables already hold rows: {listed}; pass --replace to replace them "
                                  "(nothing was changed)")
    loader.begin()
    try:
        report = _fill(session, loader, generator, options, replace=bool(filled), began=began)
    except BaseException:  # Ctrl-C too: what was there stays there
        loader.abort()
        raise
    # After the seed's transaction: a refresh makes tables again (DDL would commit it on Snowflake).
    _refresh_materialized(session, dep, report.phases)
    return dataclasses.replace(report, seconds=time.perf_counter() - began - report.delete_seconds)


def _fill(session: Session, loader: Any, generator: Any, options: SeedOptions, *, replace: bool,
          began: float) -> SeedReport:
    from incidents.seed.progress import Progress

    deleting = time.perf_counter()
    if replace:
        loader.delete_all()
    delete_seconds = time.perf_counter() - deleting if replace else 0.0
    rows: dict[str, int] = {}
    phases: dict[str, float] = {"generate": 0.0}
    with Progress(enabled=options.progress, incidents=options.incidents) as progress, session.bulk_load():
        for name, frame in generator.dimension_batch():
            loaded = _load(loader, name, frame, phases)
            rows[name] = rows.get(name, 0) + loaded
            progress.advance(name, loaded, covered=rows[name], total=rows[name])
        # One chunk at a time, never listed, to bound memory; the next one is generated in a thread while
        # this one loads (numpy and DuckDB both release the GIL: 31 s -> 23 s at 1M incidents). "generate"
        # is the time the load waited for it.
        with ThreadPoolExecutor(1, thread_name_prefix="seed-generate") as generating:
            chunks = generator.batches()
            upcoming = generating.submit(next, chunks)
            for covered in generator.chunk_ends():
                t0 = time.perf_counter()
                batch = upcoming.result()
                phases["generate"] += time.perf_counter() - t0
                if covered < options.incidents:
                    upcoming = generating.submit(next, chunks)
                # Frames are popped so each is freed once loaded: holding a loaded chunk while the next
                # one is generated was most of the peak RSS.
                while batch:
                    name, frame = batch.pop(0)
                    loaded = _load(loader, name, frame, phases)
                    del frame
                    rows[name] = rows.get(name, 0) + loaded
                    progress.advance(name, loaded, covered=covered, total=options.incidents)
        loader.finish()
    return SeedReport(rows=rows, seconds=time.perf_counter() - began - delete_seconds,
                      delete_seconds=delete_seconds, phases=phases)


def _refresh_materialized(session: Session, dep: Deployment, phases: dict[str, float]) -> None:
    """The local target's materialized views, whole: the load changed every incident (Snowflake refreshes
    its dynamic tables itself)."""
    from incidents.kinds.dynamic_table import refresh

    phases.update({f"refresh {name}": seconds for name, seconds in refresh(session, dep).items()})


def _check_categories(deployed: dict[int, str], modelled: dict[int, str]) -> None:
    """The sample data files incidents under the spec's taxonomy, which config declares and deploy keeps:
    each category the generator uses must be deployed under the same id and code."""
    if not deployed:
        raise NotDeployedError("incident_categories is empty: run `incidents deploy`, which adds the categories "
                               "config/tables/incident_categories.yml declares")
    wrong = [f"{cid} {code}" for cid, code in modelled.items() if deployed.get(cid) != code]
    if wrong:
        shown = ", ".join(wrong[:5]) + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "")
        raise ConfigError(f"the sample data files incidents under the shipped category tree, but category(ies) {shown} "
                          "are not deployed with that id and code; keep them in reference_data (retire one with "
                          "is_active: false rather than removing it)", file="config/tables/incident_categories.yml",
                          key="reference_data")


def _load(loader: Any, name: str, frame: Any, phases: dict[str, float]) -> int:
    t0 = time.perf_counter()
    loaded = int(loader.write(name, frame))
    phases[f"load {name}"] = phases.get(f"load {name}", 0.0) + time.perf_counter() - t0
    return loaded


def render_sample_sql(dep: Deployment) -> str:
    """Small deterministic demo set (a few hundred incidents) as plain INSERT statements for
    sql/03_sample_data.sql."""
    from incidents.seed.sample_sql import render

    return render(dep)
