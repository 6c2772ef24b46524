"""Time every analytics view on the local (fakesnow) target, at one size or several.

    python benchmarks/views.py [--incidents 1000000 [2000000]] [--mode count|fetch] [--repeat 3] [--dir PATH]
                               [--views NAME ...] [--changed 1000]

For each size: deploys into a fresh local database (a temporary folder unless --dir, which keeps DIR/<N>
and reuses it), loads N incidents with the sample-data generator (`incidents.seed`: the seed's own time
and what refreshing the materialized views added to it are printed), then prints, per view, the best
wall time of `--repeat` runs of `SELECT COUNT(*) FROM view` (mode count: the whole view is computed,
nothing is transferred) or `SELECT * FROM view` fetched to the client (mode fetch), with the 1-minute
load average when it was measured. Before the views it runs and times `incidents check` once (recorded),
which v_data_quality_issues reads. Prints figures; asserts nothing.

Baselines measured in the same run, side by side:
  - a materialized view (`materialize:` in config/views.yml: a table on the local target) is also timed
    as the plain view of the same SELECT (created as `<name>_unmaterialized`, dropped afterwards): what
    reading it cost before it was materialized;
  - a view with a template in benchmarks/baseline/views/ (its SQL before a rewrite for speed) is also
    timed with that SQL, created as a view `<name>_baseline` (a view, because fakesnow transpiles a view's
    SQL once, at CREATE).
The refresh of the materialized views is timed too: whole (what seed does) and by incident for
--changed incidents (what ingest does for a view declared by_incident). With two or more sizes, the
growth exponent k (time ~ n^k) between the first and the last size is printed per view.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import jinja2

from incidents.checks import run_checks
from incidents.engine.apply import deploy
from incidents.kinds.dynamic_table import refresh
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import View
from incidents.seed import SeedOptions, seed
from incidents.sql.session import Session
from incidents.sql.templating import environment as jinja_environment
from incidents.targets.local import open_local

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).resolve().parent / "baseline"


def load() -> float:
    return os.getloadavg()[0]


def baseline_bodies(dep: Deployment) -> dict[str, str]:
    """Old view bodies (benchmarks/baseline/views/<name>.sql.j2), rendered with the project's macros."""
    jenv = jinja_environment(dep.templates_dir).overlay(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(BASELINE)),
                                    jinja2.FileSystemLoader(str(dep.templates_dir))]))
    bodies = {}
    for view in dep.project.views:
        path = BASELINE / "views" / f"{view.name}.sql.j2"
        if path.is_file():
            bodies[view.name] = jenv.get_template(f"views/{path.name}").render(**dep.context(), view=view)
    return bodies


def best_of(session: Session, sql: str, repeat: int, count: bool) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        _, result = session.execute(sql)
        best = min(best, time.perf_counter() - t0)
        rows = result[0][0] if count else len(result)
    return best, rows


def timed_as_view(session: Session, dep: Deployment, view: View, suffix: str, body: str, args: Any
                  ) -> tuple[float, int]:
    """The body created as a plain view `<name><suffix>`, timed, dropped."""
    name = dep.fq(view.name + suffix)
    session.execute(f"CREATE OR REPLACE VIEW {name} AS {body.strip()}")
    try:
        return best_of(session, query(name, args.mode), args.repeat, args.mode == "count")
    finally:
        session.execute(f"DROP VIEW {name}")


def query(name: str, mode: str) -> str:
    return f"SELECT COUNT(*) FROM {name}" if mode == "count" else f"SELECT * FROM {name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--mode", choices=("count", "fetch"), default="count")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="keep the local databases in DIR/<N> and reuse them")
    parser.add_argument("--views", nargs="*", help="only these views")
    parser.add_argument("--changed", type=int, default=1000, help="incidents a by-incident refresh is given")
    args = parser.parse_args(argv)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Arrow output.*")

    results: dict[int, dict[str, tuple[float, float | None]]] = {}
    for n in args.incidents:
        if args.dir:
            results[n] = measure(n, args.dir / str(n), args)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            results[n] = measure(n, Path(tmp), args)
    if len(results) > 1:
        growth(results, args.incidents[0], args.incidents[-1])
    return 0


def measure(n: int, folder: Path, args: Any) -> dict[str, tuple[float, float | None]]:
    """Per view: (best seconds, best seconds of its unmaterialized form or None)."""
    project = load_project(ROOT)
    dep = Deployment(project, environment(project, "dev"))
    session = open_local(folder, dep.env)
    start = time.perf_counter()
    deploy(session, dep)
    print(f"\n== {n:,} incidents, load {load():.1f} at the start")
    if not session.execute(f"SELECT COUNT(*) FROM {dep.fq('incidents')}")[1][0][0]:  # a reused --dir keeps its rows
        report = seed(session, dep, SeedOptions(incidents=n, random_seed=42))
        refreshed = {k.removeprefix("refresh "): v for k, v in report.phases.items() if k.startswith("refresh ")}
        print(f"seed: {report.seconds:.1f} s, of it refreshing the materialized views {sum(refreshed.values()):.2f} s "
              f"({', '.join(f'{k} {v:.2f}' for k, v in refreshed.items())}); load {load():.1f}")
    counts = {t: session.execute(f"SELECT COUNT(*) FROM {dep.fq(t)}")[1][0][0]
              for t in ("incidents", "incident_status_history", "incident_assignment_history")}
    print(f"deployed and seeded in {time.perf_counter() - start:.1f} s: "
          + ", ".join(f"{t}={c:,}" for t, c in counts.items()))
    time_refreshes(session, dep, args.changed)
    # v_data_quality_issues reads the latest recorded `incidents check` run: record one, and time it.
    t0 = time.perf_counter()
    checked = run_checks(session, dep, "benchmark")
    print(f"incidents check (every data check, recorded in data_quality_results): "
          f"{time.perf_counter() - t0:.3f} s, {checked.passed} passed, {len(checked.failed)} failed; load {load():.1f}")
    print(f"mode={args.mode}, best of {args.repeat}")
    print(f"{'view':34} {'rows':>10} {'seconds':>8} {'load':>5}   baseline in the same run")
    times: list[float] = []
    found: dict[str, tuple[float, float | None]] = {}
    old = baseline_bodies(dep)
    for view in project.views:
        if args.views and view.name not in args.views:
            continue
        best, rows = best_of(session, query(dep.fq(view.name), args.mode), args.repeat, args.mode == "count")
        times.append(best)
        line = f"{view.name:34} {rows:>10,} {best:>8.3f} {load():>5.1f}"
        plain = None
        if view.materialize is not None:
            plain, plain_rows = timed_as_view(session, dep, view, "_unmaterialized",
                                              dep.render(view.template, view=view), args)
            line += (f"   materialized; as the plain view {plain:.3f} s ({plain_rows:,} rows, load {load():.1f}): "
                     f"{plain / best:.{0 if plain >= 10 * best else 1}f}x")
        if view.name in old:
            was, was_rows = timed_as_view(session, dep, view, "_baseline", old[view.name], args)
            line += f"   previous SQL {was:.3f} s, {was_rows:,} rows"
        found[view.name] = (best, plain)
        print(line)
    times.sort()
    median = times[len(times) // 2] if times else 0.0
    slowest = max(found.items(), key=lambda item: item[1][0]) if found else ("-", (0.0, None))
    print(f"slowest view: {slowest[0]} {slowest[1][0]:.3f} s, median {median:.3f} s over {len(times)} views; "
          f"load {load():.1f} at the end")
    session.close()
    return found


def time_refreshes(session: Session, dep: Deployment, changed: int) -> None:
    """The refresh of the materialized views: whole (after a seed), and by incident for `changed` incidents."""
    t0 = time.perf_counter()
    whole = refresh(session, dep)
    total = time.perf_counter() - t0
    print(f"refresh, whole: {total:.2f} s ({', '.join(f'{k} {v:.2f}' for k, v in whole.items())}); load {load():.1f}")
    # The latest incidents: the ones a load of alerts touches.
    scope = f"SELECT incident_id FROM {dep.fq('incidents')} ORDER BY incident_id DESC LIMIT {int(changed)}"
    t0 = time.perf_counter()
    narrow = refresh(session, dep, incidents=scope)
    total = time.perf_counter() - t0
    print(f"refresh after a load that changed {changed:,} incidents (by incident where declared): {total:.2f} s "
          f"({', '.join(f'{k} {v:.2f}' for k, v in narrow.items())}); load {load():.1f}")


def growth(results: dict[int, dict[str, tuple[float, float | None]]], first: int, last: int) -> None:
    """k in time ~ n^k from the first to the last size, per view (and for the unmaterialized baselines)."""
    print(f"\ngrowth from {first:,} to {last:,} incidents (k: time ~ n^k; 1 is linear)")
    scale = math.log(last / first)
    for name, (small, plain_small) in results[first].items():
        if name not in results[last]:
            continue
        big, plain_big = results[last][name]
        line = f"{name:34} {small:.3f} -> {big:.3f} s  k={math.log(max(big, 1e-6) / max(small, 1e-6)) / scale:.2f}"
        if plain_small and plain_big:
            line += (f"   unmaterialized {plain_small:.3f} -> {plain_big:.3f} s "
                     f"k={math.log(plain_big / plain_small) / scale:.2f}")
        print(line)


if __name__ == "__main__":
    sys.exit(main())
