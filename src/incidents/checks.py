"""`incidents check`: the declared data checks on live data, as a CI gate.

Snowflake does not enforce primary, unique or foreign keys, nor `allowed_values`; the checks that
catch what it lets through are defined once, in the `v_data_quality_issues` view (generated from
config/tables/*.yml plus the lifecycle rules). `check` reads that view in one query, so the view a
dashboard shows and the gate CI runs can never disagree. NOT NULL is not checked: Snowflake and the
local target both enforce it, so such a check could never fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from incidents.errors import NotDeployedError, TargetError
from incidents.models import Environment, Project
from incidents.render import context
from incidents.results import JsonResult
from incidents.session import Session, is_missing_object
from incidents.templating import render_template

SAMPLES = 5
VIEW = "v_data_quality_issues"


@dataclass(frozen=True)
class FailedCheck:
    check: str
    table: str
    column: str | None
    failures: int
    samples: tuple[tuple[str | None, str | None], ...]  # (record key, detail), at most SAMPLES

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "table": self.table, "column": self.column, "failures": self.failures,
                "samples": [{"key": k, "detail": d} for k, d in self.samples]}


@dataclass(frozen=True)
class CheckResult(JsonResult):
    env: str
    where: str
    failed: tuple[FailedCheck, ...]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "ok": self.ok, "failed": [f.to_dict() for f in self.failed]}


def run_checks(session: Session, project: Project, env: Environment, where: str) -> CheckResult:
    if not any(v.name == VIEW for v in project.views):
        raise NotDeployedError(f"config/views.yml declares no {VIEW} view, which defines the checks; add it back")
    sql = render_template(project.templates_dir, "check/failures.sql.j2", **context(project, env), samples=SAMPLES)
    try:
        rows = session.query(sql, obj=VIEW)
    except TargetError as exc:
        if is_missing_object(exc):
            raise NotDeployedError(f"{VIEW} does not exist in {env.database}.{env.schema}: "
                                   "run `incidents deploy` first") from None
        raise
    groups: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["CHECK_NAME"], row["TABLE_NAME"], row["COLUMN_NAME"]), []).append(row)
    failed = tuple(
        FailedCheck(check, table, column, int(members[0]["FAILURES"]),
                    tuple((m["RECORD_KEY"], m["DETAIL"]) for m in members))
        for (check, table, column), members in groups.items()
    )
    return CheckResult(env.name, where, failed)
