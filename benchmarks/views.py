"""Time every analytics view on the local (fakesnow) target.

    python benchmarks/views.py [--incidents 1000000] [--mode count|fetch] [--repeat 3] [--dir PATH]

Deploys into a fresh local database (a temporary folder unless --dir), loads N incidents with the
sample-data generator (`incidents.seed`), then prints, per view, the best wall time of
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
from incidents.seed import SeedOptions, seed
from incidents.targets import open_local

ROOT = Path(__file__).resolve().parents[1]


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
        deploy(session, project, env)
        seed(session, project, env, SeedOptions(incidents=args.incidents, random_seed=42))
        counts = {t: session.execute(f"SELECT COUNT(*) FROM {env.database}.{env.schema}.{t}")[1][0][0]
                  for t in ("incidents", "incident_status_history", "incident_assignment_history")}
        print(f"deployed and seeded in {time.perf_counter() - start:.1f} s: "
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
