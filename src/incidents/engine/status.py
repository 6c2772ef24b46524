"""`status` and `history`: where a workspace points, whether it is in sync, and what past deploys did.

Read-only, in a constant number of queries: the deploy snapshot (at most four), one for the
history and one for the row counts of every declared table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from incidents.errors import TargetError
from incidents.kinds.base import DEPLOY, LiveState, StepStatus
from incidents.output import JsonResult
from incidents.project.deployment import Deployment
from incidents.project.models import HISTORY_TABLE
from incidents.sql.session import Session


@dataclass(frozen=True)
class HistoryStep:
    object_kind: str
    object: str
    action: str
    status: str
    statements: int
    duration_ms: int
    error: str | None
    at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {"object_kind": self.object_kind, "object": self.object, "action": self.action,
                "status": self.status, "statements": self.statements, "duration_ms": self.duration_ms,
                "error": self.error, "at": self.at}


@dataclass(frozen=True)
class DeployRecord:
    """One past deploy as its history rows tell it."""

    deploy_id: str
    env: str
    deployed_by: str | None
    tool_version: str
    started_at: dt.datetime
    finished_at: dt.datetime
    steps: tuple[HistoryStep, ...]

    def count(self, status: StepStatus) -> int:
        return sum(1 for s in self.steps if s.status == status)

    finished: bool = True  # its last row says it ended; an interrupted one has none

    @property
    def outcome(self) -> str:
        if self.count(StepStatus.FAILED):
            return "failed"
        return "ok" if self.finished else "interrupted"

    def to_dict(self, *, steps: bool = True) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "deploy_id": self.deploy_id, "env": self.env, "deployed_by": self.deployed_by,
            "tool_version": self.tool_version, "started_at": self.started_at, "finished_at": self.finished_at,
            "outcome": self.outcome, "ok": self.count(StepStatus.OK), "failed": self.count(StepStatus.FAILED),
            "refused": self.count(StepStatus.REFUSED),
        }
        if steps:
            summary["steps"] = [s.to_dict() for s in self.steps]
        return summary


@dataclass(frozen=True)
class HistoryResult(JsonResult):
    env: str
    where: str
    deploys: tuple[DeployRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "deploys": [d.to_dict() for d in self.deploys]}


@dataclass(frozen=True)
class StatusResult(JsonResult):
    project: str
    env: str
    target: dict[str, Any]  # backend and where: local path, or account/user/role/warehouse
    database: str
    schema: str
    deployed: bool
    changes: int
    destructive: int
    last_deploy: DeployRecord | None
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def in_sync(self) -> bool:
        return self.deployed and not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project, "env": self.env, "target": self.target, "database": self.database,
            "schema": self.schema, "deployed": self.deployed, "in_sync": self.in_sync, "changes": self.changes,
            "destructive_changes": self.destructive,
            "last_deploy": self.last_deploy.to_dict(steps=False) if self.last_deploy else None,
            "row_counts": self.row_counts,
        }


def read_history(session: Session, dep: Deployment, limit: int,
                 live: LiveState | None = None) -> tuple[DeployRecord, ...]:
    """The last `limit` deploys, newest first; none when the history table does not exist."""
    if live is not None and HISTORY_TABLE.upper() not in live.tables:
        return ()
    sql = dep.render("status/deploys.sql.j2", limit=limit)
    rows = session.query(sql, obj=HISTORY_TABLE)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["DEPLOY_ID"], []).append(row)
    return tuple(_record(deploy_id, members) for deploy_id, members in grouped.items())


def _record(deploy_id: str, rows: list[dict[str, Any]]) -> DeployRecord:
    first, last = rows[0], rows[-1]
    steps = tuple(HistoryStep(r["OBJECT_KIND"], r["OBJECT_NAME"], r["ACTION"], r["STATUS"], int(r["STATEMENTS"]),
                              int(r["DURATION_MS"]), r["ERROR"], r["DEPLOYED_AT"])
                  for r in rows if r["OBJECT_KIND"] != DEPLOY)
    finished = any(r["OBJECT_KIND"] == DEPLOY for r in rows)
    return DeployRecord(deploy_id, last["ENV"], last["DEPLOYED_BY"], last["TOOL_VERSION"], first["DEPLOYED_AT"],
                        last["FINISHED_AT"], steps, finished)


def row_counts(session: Session, dep: Deployment, live: LiveState) -> dict[str, int]:
    """Rows of every declared table that exists, in config order, in one query."""
    tables = [t.name for t in dep.project.tables if t.name.upper() in live.tables]
    if not tables:
        return {}
    sql = dep.render("seed/row_counts.sql.j2", tables=tables)
    counts = {str(r["TABLE_NAME"]): int(r["ROW_COUNT"]) for r in session.query(sql, obj=dep.schema)}
    return {name: counts[name] for name in tables if name in counts}


def session_identity(session: Session, dep: Deployment) -> dict[str, Any]:
    """Account, user, role and warehouse of a Snowflake session, as Snowflake reports them; "unknown" where
    the server cannot say (a fakesnow server has no CURRENT_ACCOUNT()): status is worth more than its header."""
    try:
        row = session.query(dep.render("status/session.sql.j2"), obj="session")[0]
    except TargetError:
        return dict.fromkeys(("account", "user", "role", "warehouse"), "unknown")
    return {"account": row["ACCOUNT_NAME"], "user": row["USER_NAME"], "role": row["ROLE_NAME"],
            "warehouse": row["WAREHOUSE_NAME"]}
