"""Deploy: introspect, diff, plan, run the steps, record them in the history table.

Snowflake commits each DDL statement, so there is no transactional deploy: every step is idempotent
and recorded as it ends (ok or failed), and a rerun plans only what is still missing.
"""

from __future__ import annotations

import datetime as dt
import getpass
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from incidents import __version__
from incidents.diff import Change, diff
from incidents.errors import TargetError
from incidents.introspect import fingerprint, introspect
from incidents.models import Environment, Project
from incidents.plan import Step, plan
from incidents.render import context, desired_state
from incidents.session import Session
from incidents.templating import render_template


@dataclass
class StepResult:
    step: Step
    status: str  # ok | failed | refused | planned
    seconds: float = 0.0
    error: str | None = None


@dataclass
class DeployReport:
    env: str
    backend: str
    dry_run: bool
    changes: list[Change]
    results: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def applied(self) -> list[StepResult]:
        return [r for r in self.results if r.status == "ok"]

    @property
    def refused(self) -> list[StepResult]:
        return [r for r in self.results if r.status == "refused"]

    @property
    def up_to_date(self) -> bool:
        return not self.results

    def as_dict(self) -> dict[str, object]:
        return {
            "env": self.env, "backend": self.backend, "dry_run": self.dry_run,
            "up_to_date": self.up_to_date, "seconds": round(self.seconds, 3),
            "steps": [{"object_kind": r.step.object_kind, "object": r.step.object, "action": r.step.action,
                       "status": r.status, "destructive": r.step.destructive, "statements": list(r.step.statements),
                       "seconds": round(r.seconds, 3), "error": r.error or r.step.refused} for r in self.results],
        }


@dataclass(frozen=True)
class Snapshot:
    """Everything a deploy, plan or diff needs to know, read with a constant number of queries."""

    changes: list[Change]
    steps: list[Step]


def snapshot(session: Session, project: Project, env: Environment, *, allow_destructive: bool = False) -> Snapshot:
    desired = desired_state(project, env)
    live = introspect(session, project, env)
    changes = diff(desired, live, "local" if session.emulated else session.backend)
    return Snapshot(changes, plan(project, desired, live, changes, allow_destructive=allow_destructive))


def deploy(session: Session, project: Project, env: Environment, *, dry_run: bool = False,
           allow_destructive: bool = False, on_step: Callable[[StepResult], None] | None = None) -> DeployReport:
    start = time.perf_counter()
    snap = snapshot(session, project, env, allow_destructive=allow_destructive)
    report = DeployReport(env.name, session.backend, dry_run, snap.changes)
    notify = on_step or (lambda result: None)
    if dry_run:
        for step in snap.steps:
            report.results.append(StepResult(step, "planned" if step.runs else "refused"))
            notify(report.results[-1])
        report.seconds = time.perf_counter() - start
        return report

    deploy_id = str(uuid.uuid4())
    failure: TargetError | None = None
    for step in snap.steps:
        if not step.runs:
            report.results.append(StepResult(step, "refused"))
            notify(report.results[-1])
            continue
        t0 = time.perf_counter()
        try:
            for statement in step.statements:
                session.execute(statement, obj=f"{step.object_kind} {step.object}")
        except TargetError as exc:
            report.results.append(StepResult(step, "failed", time.perf_counter() - t0, str(exc)))
            notify(report.results[-1])
            failure = exc
            break
        report.results.append(StepResult(step, "ok", time.perf_counter() - t0))
        notify(report.results[-1])
    _record(session, project, env, deploy_id, report.results)
    report.seconds = time.perf_counter() - start
    if failure is not None:
        raise failure
    return report


def _record(session: Session, project: Project, env: Environment, deploy_id: str, results: list[StepResult]) -> None:
    """One INSERT for the whole deploy, with view fingerprints read back in one query."""
    ran = [r for r in results if r.status in ("ok", "failed")]
    if not ran:
        return
    ctx = context(project, env)
    fingerprints: dict[str, str] = {}
    if any(r.step.object_kind == "view" and r.status == "ok" for r in ran):
        rows = session.query(render_template(project.templates_dir, "introspect/views.sql.j2", **ctx))
        fingerprints = {r["TABLE_NAME"]: fingerprint(r["VIEW_DEFINITION"] or "") for r in rows}
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    records = [{
        "deploy_id": deploy_id, "kind": r.step.object_kind, "name": r.step.object, "action": r.step.action,
        "checksum": r.step.checksum if r.status == "ok" else None,
        "fingerprint": fingerprints.get(r.step.object.upper()) if r.step.object_kind == "view" else None,
        "status": r.status, "statements": len(r.step.statements), "duration_ms": round(r.seconds * 1000),
        "error": (r.error or "")[:4000] or None, "tool_version": __version__, "env": env.name,
        "deployed_by": _user(), "deployed_at": now,
    } for r in ran]
    try:
        session.execute(render_template(project.templates_dir, "history/insert.sql.j2", **ctx, records=records),
                        obj="deploy history")
    except TargetError:
        if all(r.status == "ok" for r in ran):
            raise
        # The deploy already failed and the original error matters more than its history row.


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
