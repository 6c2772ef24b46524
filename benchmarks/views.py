"""Time every analytics view on the local (fakesnow) target.

    python benchmarks/views.py [--incidents 1000000] [--mode count|fetch] [--repeat 3] [--dir PATH]

Deploys into a fresh local database (a temporary folder unless --dir), loads N incidents with the
sample-data generator (`incidents.seed`), then prints, per view, the best wall time of
`--repeat` runs of `SELECT COUNT(*) FROM view` (mode count: the whole view is computed, nothing is
transferred) or `SELECT * FROM view` fetched to the client (mode fetch). Before the views it runs and
times `incidents check` once (recorded), which v_data_quality_issues reads. Prints figures; asserts nothing.

A view with a template in benchmarks/baseline/views/ (its SQL before a rewrite for speed) is also timed
with that SQL, rendered the same way and created as a view `<name>_baseline` (dropped afterwards; a
view, because fakesnow transpiles a view's SQL once, at CREATE), so the old/new ratio is measured side by
side in one run.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import jinja2

from incidents.checks import run_checks
from incidents.engine.apply import deploy
from incidents.engine.files import context
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import Environment, Project
from incidents.seed import SeedOptions, seed
from incidents.sql.templating import environment as jinja_environment
from incidents.targets.local import open_local

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).resolve().parent / "baseline"


def baseline_bodies(project: Project, env: Environment) -> dict[str, str]:
    """Old view bodies (benchmarks/baseline/views/<name>.sql.j2), rendered with the project's macros."""
    jenv = jinja_environment(project.templates_dir).overlay(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(BASELINE)),
                                    jinja2.FileSystemLoader(str(project.templates_dir))]))
    bodies = {}
    for view in project.views:
        path = BASELINE / "views" / f"{view.name}.sql.j2"
        if path.is_file():
            bodies[view.name] = jenv.get_template(f"views/{path.name}").render(**context(project, env), view=view)
    return bodies


def best_of(session, sql: str, repeat: int, count: bool) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    best, rows = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        _, result = session.execute(sql)
        best = min(best, time.perf_counter() - t0)
        rows = result[0][0] if count else len(result)
    return best, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--mode", choices=("count", "fetch"), default="count")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="local database folder (default: a temporary one)")
    parser.add_argument("--views", nargs="*", help="only these views")
    args = parser.parse_args(argv)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Arrow output.*")

    project = load_project(ROOT)
    env = environment(project, "dev")
    with tempfile.TemporaryDirectory() as tmp:
        session = open_local(args.dir or Path(tmp), env)
        start = time.perf_counter()
        deploy(session, Deployment(project, env))
        # A reused --dir keeps its rows (deploy above still brings the views up to date).
        if not session.execute(f"SELECT COUNT(*) FROM {env.database}.{env.schema}.incidents")[1][0][0]:
            seed(session, Deployment(project, env), SeedOptions(incidents=args.incidents, random_seed=42))
        counts = {t: session.execute(f"SELECT COUNT(*) FROM {env.database}.{env.schema}.{t}")[1][0][0]
                  for t in ("incidents", "incident_status_history", "incident_assignment_history")}
        print(f"deployed and seeded in {time.perf_counter() - start:.1f} s: "
              + ", ".join(f"{t}={n:,}" for t, n in counts.items()))
        # v_data_quality_issues reads the latest recorded `incidents check` run: record one, and time it.
        t0 = time.perf_counter()
        checked = run_checks(session, Deployment(project, env), "benchmark")
        print(f"incidents check (every data check, recorded in data_quality_results): "
              f"{time.perf_counter() - t0:.3f} s, {checked.passed} passed, {len(checked.failed)} failed")
        print(f"mode={args.mode}, best of {args.repeat}")
        print(f"{'view':34} {'rows':>10} {'seconds':>8}   baseline (previous SQL)")
        slowest, times = 0.0, []
        old = baseline_bodies(project, env)
        for view in project.views:
            if args.views and view.name not in args.views:
                continue
            name = f"{env.database}.{env.schema}.{view.name}"
            sql = f"SELECT COUNT(*) FROM {name}" if args.mode == "count" else f"SELECT * FROM {name}"
            best, rows = best_of(session, sql, args.repeat, args.mode == "count")
            slowest = max(slowest, best)
            times.append(best)
            line = f"{view.name:34} {rows:>10,} {best:>8.3f}"
            if view.name in old:
                session.execute(f"CREATE OR REPLACE VIEW {name}_baseline AS {old[view.name].strip()}")
                old_sql = sql.replace(name, f"{name}_baseline")
                old_best, old_rows = best_of(session, old_sql, args.repeat, args.mode == "count")
                session.execute(f"DROP VIEW {name}_baseline")
                line += f"   {old_best:.3f} s, {old_rows:,} rows: {old_best / best:.1f}x faster now"
            print(line)
        times.sort()
        median = times[len(times) // 2] if times else 0.0
        print(f"slowest view: {slowest:.3f} s, median {median:.3f} s over {len(times)} views")
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
