"""Start-up cost of everyday commands on the local target, against a bare DuckDB open + query.

    python benchmarks/local_commands.py [--repeat 5] [--snow PATH-TO-snow] [--before OLD_CHECKOUT/src]

Deploys the project once into a temporary local target, then times, as fresh processes and
interleaved round by round (so the machine's noise hits all of them alike), the median of:
a bare `python -c "import duckdb; duckdb.connect(<the database file>).sql(<count>)"`,
`incidents query "SELECT COUNT(*) FROM incidents"`, `incidents diff`, a no-op `incidents deploy`,
`incidents --help` (and `snow --help` when the Snowflake CLI is found: --snow, else `snow` on PATH; install it
in a venv of its own, `python -m venv ~/venv-snowcli && ~/venv-snowcli/bin/pip install snowflake-cli==3.30.0`,
and pass `--snow ~/venv-snowcli/bin/snow`). Prints each median with
its ratio to the bare DuckDB run (goal: query, diff and no-op deploy <= 4x; --help >= 15x faster
than `snow --help`) and the CPU seconds, which the machine's load distorts less than wall time.
In the same rounds it times --queries N (default 10) COUNT queries as N `incidents query` processes
and as one `incidents sql` process reading them on standard input, and prints their ratio. With --before,
the same commands of another version's source folder (on PYTHONPATH; `git archive <commit> src | tar -x -C
/tmp/old`, then `--before /tmp/old/src`) run in the same rounds.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNT = "SELECT COUNT(*) FROM incidents"


def timed(argv: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run; fails loudly if the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[:500]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--queries", type=int, default=10, help="queries per batch: N processes vs one shell")
    parser.add_argument("--snow", default=shutil.which("snow"), help="the Snowflake CLI's `snow` (baseline of --help)")
    parser.add_argument("--before", type=Path, help="another version's src/ folder to time beside this one")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    cli = [sys.executable, "-m", "incidents"]
    with tempfile.TemporaryDirectory(prefix="local-commands-") as tmp:
        work = Path(tmp)
        for part in ("config", "templates"):
            shutil.copytree(ROOT / part, work / part)
        env = {**os.environ, "INCIDENTS_LOCAL_DIR": str(work / ".incidents")}
        env.pop("INCIDENTS_ENV", None)
        # Byte-compile the project's modules once, as an installed package is (an editable install run with
        # PYTHONDONTWRITEBYTECODE set would compile every module of incidents on every start).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([*cli, "deploy", "-q"], env=env, cwd=work, check=True, capture_output=True)
        database = work / ".incidents" / "INCIDENTS.db"
        commands = {
            "bare duckdb open + query": [sys.executable, "-c",
                                         f"import duckdb; c = duckdb.connect({str(database)!r}); "
                                         f"print(c.sql('SELECT COUNT(*) FROM CORE.INCIDENTS').fetchall())"],
            f"incidents query {COUNT!r}": [*cli, "query", COUNT],
            "incidents diff": [*cli, "diff"],
            "incidents deploy (no-op)": [*cli, "deploy", "-q"],
            "incidents --help": [*cli, "--help"],
        }
        envs = {name: env for name in commands}
        if args.before:
            for name in [n for n in commands if n.startswith("incidents")]:
                commands[f"before: {name}"] = commands[name]
                envs[f"before: {name}"] = {**env, "PYTHONPATH": str(args.before.resolve())}
        if args.snow:
            commands["snow --help"] = [args.snow, "--help"]
            envs["snow --help"] = env
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        batch: dict[str, list[tuple[float, float]]] = {"processes": [], "shell": []}
        for _ in range(args.repeat):
            for name, command in commands.items():
                runs[name].append(timed(command, envs[name], work))
            batch["processes"].append(_sum(timed(commands[f"incidents query {COUNT!r}"], env, work)
                                           for _ in range(args.queries)))
            batch["shell"].append(timed([*cli, "sql", "--format", "csv"], env, work, f"{COUNT};\n" * args.queries))
    wall = {name: statistics.median(w for w, _ in r) for name, r in runs.items()}
    cpu = {name: statistics.median(c for _, c in r) for name, r in runs.items()}
    base = wall["bare duckdb open + query"]
    print(f"median of {args.repeat} interleaved runs; load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores")
    print(f"{'command':<56} {'wall s':>7} {'vs bare':>8} {'cpu s':>7} {'cpu vs bare':>11}")
    for name in commands:
        print(f"{name:<56} {wall[name]:>7.2f} {wall[name] / base:>7.1f}x {cpu[name]:>7.2f} "
              f"{cpu[name] / cpu['bare duckdb open + query']:>10.1f}x")
    print("goals: query <= 4x bare, diff and no-op deploy <= 5x bare")
    if "snow --help" in wall:
        print(f"--help is {wall['snow --help'] / wall['incidents --help']:.1f}x faster than snow --help in wall time, "
              f"{cpu['snow --help'] / cpu['incidents --help']:.1f}x in CPU (goal >= 15x)")
    procs, one = (statistics.median(w for w, _ in batch[k]) for k in ("processes", "shell"))
    procs_cpu, one_cpu = (statistics.median(c for _, c in batch[k]) for k in ("processes", "shell"))
    print(f"{args.queries} queries: {args.queries} x `incidents query` {procs:.2f} s ({procs_cpu:.2f} cpu s), "
          f"one `incidents sql` {one:.2f} s ({one_cpu:.2f} cpu s): the shell is {procs / one:.1f}x faster")
    return 0


def _sum(samples: Iterable[tuple[float, float]]) -> tuple[float, float]:
    walls, cpus = zip(*samples, strict=True)
    return sum(walls), sum(cpus)


if __name__ == "__main__":
    sys.exit(main())
