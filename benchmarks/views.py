"""Time every analytics view on the local (fakesnow) target.

    python benchmarks/views.py [--incidents 1000000] [--mode count|fetch] [--repeat 3] [--dir PATH]

Deploys into a fresh local database (a temporary folder unless --dir), loads N incidents with the
sample-data generator (`incidents.seed`) when it is importable, else with the GENERATOR-based
fallback in benchmarks/views_fallback_data.sql.j2, then prints, per view, the best wall time of
`--repeat` runs of `SELECT COUNT(*) FROM view` (mode count: the whole view is computed, nothing is
transferred) or `SELECT * FROM view` fetched to the client (mode fetch). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

from incidents.apply import deploy
from incidents.config import environment, load_project
from incidents.models import Environment, Project
from incidents.render import context
from incidents.session import Session
from incidents.targets import open_local
from incidents.templating import render_template

ROOT = Path(__file__).resolve().parents[1]


def load_data(session: Session, project: Project, env: Environment, incidents: int, *, fallback: bool) -> str:
    """Fill the tables; returns which loader was used."""
    try:
        from incidents.seed import SeedOptions, seed
    except ImportError:
        fallback = True
    if not fallback:
        seed(session, project, env, SeedOptions(incidents=incidents, random_seed=42))
        return "incidents.seed"
    sql = render_template(Path(__file__).parent, "views_fallback_data.sql.j2",
                          **context(project, env, incidents=incidents))
    for statement in (s.strip() for s in sql.split(";")):
        if statement:
            session.execute(statement)
    return "GENERATOR fallback"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--mode", choices=("count", "fetch"), default="count")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="local database folder (default: a temporary one)")
    parser.add_argument("--views", nargs="*", help="only these views")
    parser.add_argument("--fallback", action="store_true",
                        help="use the GENERATOR loader even if incidents.seed exists")
    args = parser.parse_args(argv)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Arrow output.*")

    project = load_project(ROOT)
    env = environment(project, "dev")
    with tempfile.TemporaryDirectory() as tmp:
        session = open_local(args.dir or Path(tmp), env)
        start = time.perf_counter()
        deploy(session, project, env)
        loader = load_data(session, project, env, args.incidents, fallback=args.fallback)
        counts = {t: session.execute(f"SELECT COUNT(*) FROM {env.database}.{env.schema}.{t}")[1][0][0]
                  for t in ("incidents", "incident_status_history", "incident_assignment_history")}
        print(f"loaded with {loader} in {time.perf_counter() - start:.1f} s: "
              + ", ".join(f"{t}={n:,}" for t, n in counts.items()))
        print(f"mode={args.mode}, best of {args.repeat}")
        print(f"{'view':34} {'rows':>10} {'seconds':>8}")
        slowest = 0.0
        for view in project.views:
            if args.views and view.name not in args.views:
                continue
            name = f"{env.database}.{env.schema}.{view.name}"
            sql = f"SELECT COUNT(*) FROM {name}" if args.mode == "count" else f"SELECT * FROM {name}"
            best, rows = float("inf"), 0
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                _, result = session.execute(sql)
                best = min(best, time.perf_counter() - t0)
                rows = result[0][0] if args.mode == "count" else len(result)
            slowest = max(slowest, best)
            print(f"{view.name:34} {rows:>10,} {best:>8.3f}")
        print(f"slowest view: {slowest:.3f} s")
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
