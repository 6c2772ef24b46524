"""Round trips to the target for deploy, diff and plan on the local target, and proof that they do not grow
with the number of objects. Prints figures; asserts nothing about time.

    python benchmarks/roundtrips.py [--extra-tables 50]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from incidents.engine.apply import deploy, snapshot
from incidents.engine.live import introspect
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.sql.session import Session
from incidents.targets.local import open_local

REPO = Path(__file__).resolve().parents[1]
DDL = ("CREATE", "ALTER", "DROP", "COMMENT", "MERGE", "INSERT", "UPDATE", "DELETE")


def make_project(dest: Path, extra_tables: int) -> Path:
    """A copy of the project (views included, if declared) plus `extra_tables` small tables."""
    dest.mkdir(parents=True)
    for part in ("config", "templates"):
        shutil.copytree(REPO / part, dest / part)
    for i in range(extra_tables):
        (dest / "config" / "tables" / f"bench_{i:03d}.yml").write_text(
            f"name: bench_{i:03d}\ncolumns:\n  - {{name: id, type: INT, nullable: false}}\n"
            "  - {name: label, type: VARCHAR(50)}\nprimary_key: [id]\n", encoding="utf-8")
    return dest


def measure(session: Session, action: Callable[[], Any]) -> tuple[int, int, float]:
    """(statements, DDL/DML statements, seconds) of one action."""
    session.trace.clear()
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    sent = [s.sql for s in session.trace]
    return len(sent), sum(s.lstrip().upper().startswith(DDL) for s in sent), seconds


def run(extra_tables: int, work: Path) -> None:
    project = load_project(make_project(work / f"project_{extra_tables}", extra_tables))
    env = environment(project, "dev")
    session = open_local(work / f"db_{extra_tables}", env)
    try:
        rows = [
            ("first deploy", measure(session, lambda: deploy(session, Deployment(project, env)))),
            ("no-op deploy", measure(session, lambda: deploy(session, Deployment(project, env)))),
            ("diff", measure(session, lambda: snapshot(session, Deployment(project, env)).changes)),
            ("plan", measure(session, lambda: snapshot(session, Deployment(project, env)).steps)),
            ("introspection", measure(session, lambda: introspect(session, Deployment(project, env)))),
        ]
    finally:
        session.close()
    objects = len(project.tables) + 1 + len(project.views)
    print(f"\n{objects} objects ({len(project.tables)} tables + history table, {len(project.views)} views)")
    print(f"  {'action':<15} {'statements':>10} {'of which DDL/DML':>17} {'seconds':>8}")
    for name, (count, ddl, seconds) in rows:
        print(f"  {name:<15} {count:>10} {ddl:>17} {seconds:>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra-tables", type=int, default=50, help="tables added for the second run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="incidents-roundtrips-") as tmp:
        for extra in sorted({0, max(0, args.extra_tables)}):  # --extra-tables 0: one run
            run(extra, Path(tmp))


if __name__ == "__main__":
    main()
