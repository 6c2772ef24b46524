"""`incidents seed`: a realistic, deterministic incident history at any scale, bulk-loaded.

Same options -> byte-identical rows on every run and backend. The data is generated relative to
the window end: `as_of` (the data's "now") is the midnight after `end`, so open incidents are open
as of that moment and nothing is timestamped later. Without --end the window ends today (UTC), so
the data moves with the calendar day; pass --end for a fixed data set.

numpy, pandas and pyarrow are imported by the submodules only: `import incidents.seed` is cheap.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from dataclasses import dataclass

from incidents.errors import ConfigError, NotDeployedError, TablesNotEmptyError
from incidents.models import Environment, Project
from incidents.session import Session

DEFAULT_DAYS = 365
MAX_DAYS = 3660


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
    seconds: float


def window(options: SeedOptions, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The (start, end) dates the options mean; raises ConfigError on a bad combination."""
    end = options.end or today or dt.datetime.now(dt.timezone.utc).date()
    start = options.start or end - dt.timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise ConfigError(f"--start {start} is after --end {end}", key="--start")
    if (end - start).days > MAX_DAYS:
        raise ConfigError(f"the window {start}..{end} is longer than {MAX_DAYS} days; shorten it", key="--start")
    return start, end


def seed(session: Session, project: Project, env: Environment, options: SeedOptions) -> SeedReport:
    """Generate and bulk-load the sample history; refuse (changing nothing) if tables hold rows."""
    from incidents.seed.catalog import LIFECYCLE
    from incidents.seed.generate import Generator, Window
    from incidents.seed.load import Loader
    from incidents.seed.progress import Progress

    if options.incidents < 1:
        raise ConfigError(f"expected at least 1 incident, got {options.incidents}", key="--incidents")
    if project.lifecycle != LIFECYCLE:
        raise ConfigError("the sample-data generator models the default lifecycle "
                          f"({', '.join(LIFECYCLE.statuses)}); this project declares another one, so seed "
                          "cannot generate believable history for it", file="config/project.yml", key="lifecycle")
    start, end = window(options)
    began = time.perf_counter()
    loader = Loader(session, project, env)
    missing = loader.missing_tables()
    if missing:
        raise NotDeployedError(f"table(s) {', '.join(missing)} do not exist in {env.database}.{env.schema}; "
                               "run `incidents deploy` first")
    filled = {name: n for name, n in loader.row_counts().items() if n}
    if filled and not options.replace:
        listed = ", ".join(f"{name} ({n:,} rows)" for name, n in filled.items())
        raise TablesNotEmptyError(f"tables already hold rows: {listed}; pass --replace to replace them "
                                  "(nothing was changed)")
    generator = Generator(options.incidents, options.random_seed, Window(start, end))
    if filled:
        loader.delete_all()
    rows: dict[str, int] = {}
    with Progress(enabled=options.progress, incidents=options.incidents) as progress:
        # chained, never listed: chunks are generated one at a time to bound memory. (Generating the
        # next chunk in a thread while this one loads was slower: DuckDB already uses both cores.)
        for batch in itertools.chain([generator.dimension_batch()], generator.batches()):
            for name, frame in batch:
                loaded = loader.write(name, frame)
                rows[name] = rows.get(name, 0) + loaded
                progress.advance(name, loaded)
        loader.finish()
    return SeedReport(rows=rows, seconds=time.perf_counter() - began)


def render_sample_sql(project: Project, env: Environment) -> str:
    """Small deterministic demo set (a few hundred incidents) as plain INSERT statements for
    sql/03_sample_data.sql."""
    from incidents.seed.sample_sql import render

    return render(project, env)
