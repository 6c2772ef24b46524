"""Benchmark `incidents import servicenow` on the local target; prints figures, asserts nothing.

    python benchmarks/import_.py [--events 1000000] [--baseline-rows 2000] [--dir DIR]

1. a synthetic ServiceNow audit event log of N events (src/incidents/importers/synthetic.py; written
   once into --dir and reused), imported into a fresh local database: wall and CPU time, events/s,
   peak RSS, the split into reading + landing and the set-based pass (its slowest statements);
2. the same file again (must change nothing: the idempotent re-import);
3. baselines measured in the same run: reading the file alone with Arrow's CSV reader (the floor of
   any importer of this file), and a naive importer that sends one INSERT per event (executemany
   into raw_import_rows, the landing alone, over the first --baseline-rows events), its events/s and
   what N events would take at that rate. Target: 1M events in <= 60 s.
The load average is printed beside the figures: the machine is shared, so wall time swings with it
and the CPU time (user + system of this process, DuckDB's threads included) is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ("INSERT INTO INCIDENT_CATEGORIES (CATEGORY_ID, CODE, NAME) VALUES (1, 'SYSTEM_OUTAGE', 'a'), "
              "(2, 'PAYMENT', 'b'), (3, 'PERFORMANCE', 'c'), (4, 'DATA', 'd'), (5, 'ACCOUNT', 'e'), "
              "(6, 'SECURITY', 'f')")
EVENTS_PER_INCIDENT = 5.85  # what the synthetic log averages


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def cpu() -> float:
    times = os.times()
    return times.user + times.system


def export(events: int, folder: Path) -> Path:
    from incidents.importers.synthetic import write_servicenow

    path = folder / f"servicenow-{events}.csv"
    if not path.exists():
        began = time.perf_counter()
        write_servicenow(path, max(int(events / EVENTS_PER_INCIDENT), 1), seed=1)
        print(f"export   : wrote {path} ({path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - began:.0f} s")
    return path


def workspace(folder: Path):  # type: ignore[no-untyped-def]
    os.environ["INCIDENTS_LOCAL_DIR"] = str(folder)
    from incidents import Workspace

    ws = Workspace.open(ROOT, env="dev")
    ws.deploy()
    ws.query(CATEGORIES)
    return ws


def bulk(path: Path, folder: Path) -> tuple[float, int]:
    ws = workspace(folder / "bulk")
    before = len(ws.session.trace)
    load, wall, used = loadavg(), time.perf_counter(), cpu()
    result = ws.import_("servicenow", path)
    wall, used = time.perf_counter() - wall, cpu() - used
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"import   : {result.rows:,} events, {result.incidents:,} incidents, {result.status_rows:,} status and "
          f"{result.assignment_rows:,} assignment rows, {result.people:,} people")
    print(f"           {wall:.1f} s wall = {result.rows / wall:,.0f} events/s; CPU {used:.1f} s; peak RSS "
          f"{peak:.2f} GiB; load average {load} before, {loadavg()} after")
    statements = ws.session.trace[before:]
    pass_seconds = sum(s.seconds for s in statements if (s.obj or "").startswith("import ")
                       and s.obj not in ("import missing_categories",))
    print(f"           reading + landing {wall - pass_seconds:.1f} s, set-based pass {pass_seconds:.1f} s "
          f"({sum(1 for s in statements if (s.obj or '').startswith('import '))} statements); slowest:")
    for statement in sorted(statements, key=lambda s: -s.seconds)[:6]:
        print(f"             {statement.seconds:6.2f} s  {statement.obj}")
    load, again_wall, again_cpu = loadavg(), time.perf_counter(), cpu()
    again = ws.import_("servicenow", path)
    print(f"again    : {time.perf_counter() - again_wall:.1f} s wall, CPU {cpu() - again_cpu:.1f} s (load {load}): "
          f"{again.inserted} inserted, {again.updated} updated, {again.unchanged:,} unchanged, "
          f"{again.status_rows + again.assignment_rows} history rows written")
    ws.close()
    return result.rows / wall, result.rows


def floor(path: Path) -> float:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = pacsv.open_csv(path).schema.names
    began = time.perf_counter()
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}),
                           parse_options=pacsv.ParseOptions(newlines_in_values=True))
    seconds = time.perf_counter() - began
    print(f"floor    : Arrow reads the file ({table.num_rows:,} rows as text) in {seconds:.1f} s "
          f"(load {loadavg()})")
    return seconds


def naive(path: Path, rows: int, folder: Path) -> float:
    """One INSERT per event: the landing alone, as an importer that loops over the CSV would do it."""
    import csv

    ws = workspace(folder / "naive")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        values = [(f"naive-{i}", i, "servicenow", f"servicenow:{r['number']}", r["number"],
                   f"{r['sys_mod_count']}@{r['sys_updated_at']}", True, r["incident_state"])
                  for i, r in zip(range(1, rows + 1), reader, strict=False)]
    sql = ("INSERT INTO RAW_IMPORT_ROWS (LOAD_ID, ROW_INDEX, LANDED_AT, SOURCE, SOURCE_KEY, INCIDENT_NUMBER, "
           "EVENT_KEY, IS_RECORD, STATE) VALUES (%s, %s, SYSDATE(), %s, %s, %s, %s, %s, %s)")
    cursor = ws.session.conn.cursor()
    began = time.perf_counter()
    cursor.executemany(sql, values)
    seconds = time.perf_counter() - began
    landed = ws.query("SELECT COUNT(*) AS n FROM raw_import_rows")[0]["N"]
    ws.close()
    assert landed == len(values), (landed, len(values))
    print(f"naive    : {len(values):,} events by one INSERT each in {seconds:.1f} s = {len(values) / seconds:,.0f} "
          f"events/s (load {loadavg()})")
    return len(values) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=2000)
    parser.add_argument("--dir", type=Path, help="keep the generated export here (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = export(args.events, folder)
        with tempfile.TemporaryDirectory(prefix="import-bench-db-") as db:
            fast, rows = bulk(path, Path(db))
            read = floor(path)
            slow = naive(path, args.baseline_rows, Path(db))
    print(f"ratio    : {fast / slow:,.0f}x the naive events/s (which would take {rows / slow / 3600:,.1f} h for "
          f"{rows:,} events); reading the file alone is {read:.1f} s of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
