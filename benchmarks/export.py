"""Exporting a large result: `incidents query --format csv|json > file` against DuckDB's own Arrow-to-CSV.

    python benchmarks/export.py [--dir SEEDED_LOCAL_DIR] [--incidents 1000000] [--view v_incident_overview]
                                [--before OLD_CHECKOUT/src]

Without --dir it deploys the project into a temporary local target and seeds --incidents incidents (about
a minute at 1M); with --dir it reuses a local-target folder seeded before (`INCIDENTS_LOCAL_DIR` of
`incidents seed`). Then, as fresh processes interleaved round by round (median of --repeat), it times:

- baseline: a Python process that opens the same DuckDB file and writes `SELECT * FROM <view>` to a CSV file
  with DuckDB's Arrow reader and pyarrow's CSV writer (DuckDB's own Arrow-to-CSV);
- `incidents query "SELECT * FROM <view>" --format csv > file` (goal: <= 2x the baseline);
- the same with `--format json`, and the CSV export of the first tenth of the rows (`--limit`), whose peak
  memory shows whether memory stays flat as the result grows;
- with --before, the same CSV export by another version's source folder (on PYTHONPATH), e.g.
  `git archive <commit> src | tar -x -C /tmp/old` then `--before /tmp/old/src`.

Prints wall seconds, CPU seconds, peak RSS and output size of each, the ratio to the baseline, and the load
average before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BASELINE = """
import sys, duckdb, pyarrow.csv
con = duckdb.connect(sys.argv[1], read_only=True)
reader = con.sql("SELECT * FROM INCIDENTS.CORE." + sys.argv[2].upper()).to_arrow_reader(65536)
with pyarrow.csv.CSVWriter(sys.argv[3], reader.schema) as writer:
    for batch in reader:
        writer.write_batch(batch)
"""


def run(argv: list[str], env: dict[str, str], cwd: Path, out: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS MiB) of one process writing its stdout to `out`."""
    start = time.perf_counter()
    with out.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        err = process.stderr.read().decode()[-500:] if process.stderr else ""
        raise SystemExit(f"{' '.join(argv[:4])} ... failed ({process.returncode}): {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def seeded(work: Path, incidents: int, env: dict[str, str]) -> None:
    cli = [sys.executable, "-m", "incidents"]
    subprocess.run([*cli, "deploy", "-q"], env=env, cwd=work, check=True, capture_output=True)
    subprocess.run([*cli, "seed", "-n", str(incidents), "--random-seed", "1"], env=env, cwd=work, check=True,
                   capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, help="a seeded local-target folder to reuse")
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--view", default="v_incident_overview")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another version's src/ folder to time beside this one")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="export-") as tmp:
        work = Path(tmp)
        for part in ("config", "templates"):
            shutil.copytree(ROOT / part, work / part)
        local = args.dir.resolve() if args.dir else work / ".incidents"
        env = {**os.environ, "INCIDENTS_LOCAL_DIR": str(local)}
        env.pop("INCIDENTS_ENV", None)
        # Byte-compile the project's modules once, as an installed package is (an editable install run with
        # PYTHONDONTWRITEBYTECODE set would compile every module of incidents on every start).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if not args.dir:
            seeded(work, args.incidents, env)
        database = local / "INCIDENTS.db"
        sql = f"SELECT * FROM {args.view}"
        rows = int(subprocess.run([sys.executable, "-m", "incidents", "query", f"SELECT COUNT(*) FROM {args.view}",
                                   "--format", "csv"], env=env, cwd=work, check=True, capture_output=True,
                                  text=True).stdout.split()[-1])
        cli = [sys.executable, "-m", "incidents", "query", sql]
        commands = {
            "baseline: DuckDB -> Arrow -> pyarrow CSV": [sys.executable, "-c", BASELINE, str(database), args.view,
                                                         str(work / "baseline.csv")],
            "incidents query --format csv": [*cli, "--format", "csv"],
            "incidents query --format json": [*cli, "--format", "json"],
            f"incidents query --format csv --limit {rows // 10}": [*cli, "--format", "csv", "--limit", str(rows // 10)],
        }
        envs = {name: env for name in commands}
        if args.before:
            # Only CSV: the JSON of a version before issue 26 replaced each NUMBER value in the whole text,
            # quadratic in the rows (1M rows did not finish in 16 minutes).
            name = f"before ({args.before}): --format csv"
            commands[name] = [*cli, "--format", "csv"]
            envs[name] = {**env, "PYTHONPATH": str(args.before.resolve())}
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in commands}
        sizes: dict[str, int] = {}
        for _ in range(args.repeat):
            for i, (name, command) in enumerate(commands.items()):
                out = work / f"out{i}"
                runs[name].append(run(command, envs[name], work, out))
                target = work / "baseline.csv" if i == 0 else out
                sizes[name] = target.stat().st_size
                target.unlink()
    base = statistics.median(w for w, _, _ in runs["baseline: DuckDB -> Arrow -> pyarrow CSV"])
    print(f"{args.view}: {rows:,} rows; median of {args.repeat} interleaved runs; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores")
    print(f"{'command':<52} {'wall s':>7} {'vs base':>8} {'cpu s':>7} {'peak MiB':>9} {'output MB':>10}")
    for name, samples in runs.items():
        wall = statistics.median(w for w, _, _ in samples)
        cpu = statistics.median(c for _, c, _ in samples)
        peak = max(m for _, _, m in samples)
        print(f"{name:<52} {wall:>7.2f} {wall / base:>7.2f}x {cpu:>7.2f} {peak:>9,} {sizes[name] / 1e6:>10.1f}")
    print("goal: csv <= 2x the baseline; peak memory of the full export about that of the --limit one (flat)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
