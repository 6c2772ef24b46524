"""A cold deploy over a latency-bound link: schemachange-style vs our sequential vs our parallel apply.

    python benchmarks/deploy_latency.py [--delays 50,200] [--threads 4]

Each "session" is a wrapper in front of the local target that sleeps a fixed delay before every
statement (the round trip to Snowflake); the sleeps of different sessions overlap, as a network's
would, while the statements themselves take turns on the one local database. Per delay, in one run:

(a) schemachange-style: one script per object (the same DDL), each with the bookkeeping round trips
    schemachange makes (N statements + 17 per applied script, from its source), one session;
(b) `deploy --threads 1`: our plan, one step at a time;
(c) `deploy --threads N`: dependency waves over N sessions.

Prints the table and the ratios (goal: c >= 5x faster than a at 50 ms, and >= 2.5x faster than b):
"wall" is the whole deploy; "link" is what the delay added to the same deploy at 0 ms, because the
local target's own work cannot overlap across sessions (one DuckDB connection) as Snowflake's does.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from incidents.engine.apply import deploy
from incidents.engine.desired import creation_statements
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import Environment, Project
from incidents.sql.session import Session
from incidents.targets.local import open_local

ROOT = Path(__file__).resolve().parents[1]
SCHEMACHANGE_BOOKKEEPING = 17  # round trips per applied script besides its own statements


class LatencyTarget:
    """Sessions over one local database, each statement delayed by `delay` seconds."""

    def __init__(self, base: Session, delay: float) -> None:
        self.base, self.delay = base, delay
        self.guard = threading.Lock()
        self.sessions: list[Session] = []

    def open(self) -> Session:
        time.sleep(self.delay)  # a login is at least one round trip
        session = DelayedSession(self.base.conn, "snowflake", label="delayed", emulated=True,
                                 is_target_error=self.base.is_target_error, target=self)
        self.sessions.append(session)
        return session

    def statements(self) -> int:
        return sum(len(s.trace) for s in self.sessions)


class DelayedSession(Session):
    def __init__(self, *args: Any, target: LatencyTarget, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target = target

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self.target.delay)
        with self.target.guard:
            return super().execute(sql, *args, **kwargs)

    def close(self) -> None:
        pass  # the connection belongs to the base session


def schemachange_style(session: Session, project: Project, env: Environment) -> int:
    """One script per object, applied in dependency order, with schemachange's bookkeeping."""
    scripts = 0
    for sql in creation_statements(Deployment(project, env)):
        for _ in range(SCHEMACHANGE_BOOKKEEPING):
            session.execute("SELECT 1")  # change-history reads, version checks, the history INSERT...
        session.execute(sql)
        scripts += 1
    return scripts


def run(kind: str, delay: float, threads: int, project: Project, env: Environment) -> tuple[float, int, int]:
    """(seconds, statements, sessions) of one cold deploy into a fresh local database."""
    with tempfile.TemporaryDirectory(prefix="deploy-latency-") as tmp:
        base = open_local(Path(tmp), env)
        try:
            target = LatencyTarget(base, delay)
            start = time.perf_counter()
            main = target.open()
            if kind == "schemachange":
                schemachange_style(main, project, env)
            elif kind == "sequential":
                deploy(main, Deployment(project, env), threads=1)
            else:
                deploy(main, Deployment(project, env), threads=threads, open_session=target.open)
            seconds = time.perf_counter() - start
            return seconds, target.statements(), len(target.sessions)
        finally:
            base.close()


def _ratio(baseline: float, value: float) -> str:
    """baseline / value, or n/a when the machine's noise outweighed the delay (a link time <= 0)."""
    return f"{baseline / value:.1f}x" if value > 0 and baseline > 0 else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delays", default="50,200", help="milliseconds per statement, comma-separated")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Arrow output.*")
    project = load_project(ROOT)
    env = environment(project, "dev")
    kinds = {"schemachange": "(a) schemachange-style", "sequential": "(b) sequential",
             "parallel": f"(c) parallel x{args.threads}"}
    print(f"cold deploy of {len(project.tables)} tables + {len(project.views)} views, {args.threads} threads")
    # The local target's own work (fakesnow transpiling, DuckDB) takes turns on one connection, so it
    # cannot overlap as Snowflake's server-side work does; a run at 0 ms measures it, and the time a
    # delay adds on top is what the link costs each way of applying.
    local = {kind: run(kind, 0.0, args.threads, project, env)[0] for kind in kinds}
    print(f"{'delay':>7} {'apply':<24} {'statements':>10} {'sessions':>8} {'wall s':>8} {'link s':>8} "
          f"{'link vs (a)':>11} {'vs (b)':>7} {'wall vs (a)':>11} {'vs (b)':>7}")
    for kind, label in kinds.items():
        print(f"{0:>5}ms {label:<24} {'':>10} {'':>8} {local[kind]:>8.2f}")
    for ms in (int(d) for d in args.delays.split(",")):
        results = {kind: run(kind, ms / 1000, args.threads, project, env) for kind in kinds}
        link = {kind: results[kind][0] - local[kind] for kind in kinds}
        a, b = results["schemachange"][0], results["sequential"][0]
        for kind, (seconds, statements, sessions) in results.items():
            print(f"{ms:>5}ms {kinds[kind]:<24} {statements:>10} {sessions:>8} {seconds:>8.2f} {link[kind]:>8.2f} "
                  f"{_ratio(link['schemachange'], link[kind]):>11} {_ratio(link['sequential'], link[kind]):>7} "
                  f"{a / seconds:>10.1f}x {b / seconds:>6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
