"""The deploy history: one INCIDENTS_DEPLOY_HISTORY row per step as it ends (ok, failed or refused),
then what each kind records once its steps ran (the live text of views and defaults), then the row
that says the deploy ended. Snowflake commits every DDL statement, so this is what lets a deploy
killed at any point be completed by the next one."""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from incidents.errors import TargetError
from incidents.kinds import REGISTRY
from incidents.kinds.base import DEPLOY, FINISH, RECORD, ObjectKind, Step, StepStatus
from incidents.project.deployment import Deployment
from incidents.project.models import HISTORY_TABLE
from incidents.sql.session import Session
from incidents.version import __version__


@dataclass
class StepResult:
    step: Step
    status: StepStatus
    seconds: float = 0.0
    error: str | None = None


class History:
    """Writes one INSERT of rows per batch of ended steps. Rows of steps that ran before the history
    table existed (a cold deploy's database and schema) are written right after it is created."""

    def __init__(self, session: Session, dep: Deployment, deploy_id: str, containers: Sequence[ObjectKind]) -> None:
        self.session, self.dep, self.deploy_id = session, dep, deploy_id
        self.containers = tuple(containers)  # steps that run before the schema (and its history table) exists
        self.pending: list[StepResult] = []
        self.table_exists: bool | None = None
        self.ran: list[Step] = []  # steps that succeeded: what the kinds record at the end

    def record(self, *results: StepResult) -> None:
        """One INSERT for these results (and any held back until the table existed)."""
        self.pending.extend(results)
        for result in results:
            step = result.step
            if step.object == HISTORY_TABLE and result.status == StepStatus.OK:
                self.table_exists = True
        if self.table_exists is None:
            self.table_exists = any(r.step.object_kind not in self.containers for r in results) and self._exists()
        if not self.table_exists:
            return
        rows, self.pending = self.pending, []
        self.ran += [r.step for r in rows if r.status == StepStatus.OK]
        try:
            self._insert([self._row(r) for r in rows])
        except TargetError:
            if any(r.status == StepStatus.OK for r in results):
                raise
            # The steps already failed and their errors matter more than their history rows.

    def _insert(self, records: list[dict[str, object]]) -> None:
        self.session.execute(self.dep.render("history/insert.sql.j2", records=records), obj="deploy history")

    def _exists(self) -> bool:
        rows = self.session.query(self.dep.render("introspect/tables.sql.j2"), obj="deploy history")
        return any(str(r["TABLE_NAME"]).upper() == HISTORY_TABLE.upper() for r in rows)

    def _row(self, r: StepResult, **override: Any) -> dict[str, object]:
        return {
            "deploy_id": self.deploy_id, "kind": r.step.object_kind, "name": r.step.object, "action": r.step.action,
            "checksum": r.step.checksum if r.status == StepStatus.OK else None, "fingerprint": None,
            "status": r.status, "statements": len(r.step.statements), "duration_ms": round(r.seconds * 1000),
            "error": (r.error or "")[:4000] or None, "tool_version": __version__, "env": self.dep.env.name,
            "deployed_by": user(), "deployed_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), **override,
        }

    def finish(self, seconds: float) -> None:
        """What every kind records of the steps that ran (fingerprints on this deploy's own rows, rows of
        their own), then the row that says the deploy ended (`incidents history` calls a deploy
        without one interrupted)."""
        fingerprints: list[tuple[str, str]] = []
        rows: list[dict[str, object]] = []
        for kind in REGISTRY:
            kept = kind.bookkeeping(self.session, self.dep, self.ran)
            fingerprints += kept.fingerprints
            rows += [self._row(StepResult(Step(object_kind, name, RECORD, ()), StepStatus.OK), checksum=checksum,
                               fingerprint=fingerprint) for object_kind, name, checksum, fingerprint in kept.rows]
        if fingerprints:
            self.session.execute(self.dep.render("history/fingerprints.sql.j2", deploy_id=self.deploy_id,
                                                 prints=fingerprints), obj="deploy history")
        if rows:
            self._insert(rows)
        marker = Step(DEPLOY, f"{self.dep.database}.{self.dep.schema}", FINISH, ())
        self.record(StepResult(marker, StepStatus.OK, seconds))


def user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
