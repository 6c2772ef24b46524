"""Benchmark `incidents seed` on the local target; prints figures, asserts nothing.

    python benchmarks/seed.py [--incidents 1000000] [--baseline-rows 2000]

1. generate + bulk-load N incidents with all child rows into a fresh local database
   (wall time, rows/s, peak RSS, time per phase and per table);
2. a naive row-by-row executemany of a small slice of one table into another fresh database;
3. the ratio of the two rows/s figures (targets: <= 25 s and <= 1.5 GiB peak RSS for 1M incidents).

Per phase: generation (numpy/Arrow, in a thread ahead of the load; "waited" is the time the load
waited for it) vs load (one bulk INSERT per chunk and table), per table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

from incidents.project.deployment import Deployment

ROOT = Path(__file__).resolve().parents[1]


def deployed(path: Path):  # type: ignore[no-untyped-def]
    from incidents.engine.desired import creation_statements
    from incidents.project.config import environment, load_project
    from incidents.targets.local import open_local

    project = load_project(ROOT)
    env = environment(project, "dev")
    session = open_local(path, env)
    for sql in creation_statements(Deployment(project, env)):
        session.execute(sql)
    return session, project, env


def bulk(n: int, workdir: Path) -> float:
    from incidents.seed import SeedOptions, seed

    session, project, env = deployed(workdir / "bulk")
    report = seed(session, Deployment(project, env), SeedOptions(incidents=n, end=dt.date(2025, 12, 31)))
    session.close()
    total = sum(report.rows.values())
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # ru_maxrss is KiB on Linux
    print(f"bulk     : {n:,} incidents, {total:,} rows in {report.seconds:.1f} s "
          f"= {total / report.seconds:,.0f} rows/s, peak RSS {peak_gb:.2f} GiB")
    loads = {name.removeprefix("load "): sec for name, sec in report.phases.items() if name.startswith("load ")}
    waited = report.phases.get("generate", 0.0)
    print(f"           waited for generation {waited:.1f} s, load {sum(loads.values()):.1f} s, "
          f"other (checks, solution usage) {report.seconds - sum(report.phases.values()):.1f} s")
    print(f"           {'table':<28} {'rows':>12} {'load s':>8} {'rows/s':>12}")
    for table, rows in report.rows.items():
        sec = loads.get(table, 0.0)
        print(f"           {table:<28} {rows:>12,} {sec:>8.2f} {rows / max(sec, 1e-9):>12,.0f}")
    return total / report.seconds


def naive(rows: int, workdir: Path) -> float:
    """executemany of incident_status_history rows (a narrow table) after loading their parents in bulk."""
    from incidents.seed.generate import Generator, Window
    from incidents.seed.load import Loader, conform

    session, project, env = deployed(workdir / "naive")
    generator = Generator(max(rows // 6, 1), 42, Window(dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
    loader = Loader(session, Deployment(project, env))
    for name, frame in generator.dimension_batch():
        loader.write(name, frame)
    batch = next(generator.batches())
    for name, frame in batch[:2]:
        loader.write(name, frame)
    history = conform(loader.tables["incident_status_history"], dict(batch)["incident_status_history"])
    history = history.head(rows)
    values = [tuple(_python(v) for v in row) for row in history.itertuples(index=False, name=None)]
    sql = (f"INSERT INTO INCIDENT_STATUS_HISTORY ({', '.join(history.columns)}) "
           f"VALUES ({', '.join(['%s'] * len(history.columns))})")
    cursor = session.conn.cursor()
    start = time.perf_counter()
    cursor.executemany(sql, values)
    seconds = time.perf_counter() - start
    loaded = session.query("SELECT COUNT(*) AS N FROM INCIDENT_STATUS_HISTORY")[0]["N"]
    session.close()
    assert loaded == len(values), (loaded, len(values))
    print(f"naive    : {len(values):,} rows by executemany in {seconds:.1f} s = {len(values) / seconds:,.0f} rows/s")
    return len(values) / seconds


def _python(value: object) -> object:
    """A value the DB-API accepts: None for NA/NaT, datetime for Timestamp, int/str for numpy scalars."""
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="seed-bench-") as tmp:
        fast = bulk(args.incidents, Path(tmp))
        slow = naive(args.baseline_rows, Path(tmp))
    print(f"ratio    : {fast / slow:,.0f}x the naive rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
