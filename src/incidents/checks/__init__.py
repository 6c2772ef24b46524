"""`incidents check`: the declared data checks on live data, as a CI gate, and their record.

Snowflake does not enforce primary, unique or foreign keys, nor `allowed_values`; the checks that
catch what it lets through are defined once, in templates/check/problems.sql.j2 (generated from
config/tables/*.yml plus the lifecycle rules). `check` runs them all in one statement and, unless told
not to, records what it found in `data_quality_results` (one row per passing check, up to five sample
rows per failing one) in that same statement; `v_data_quality_issues` reads the latest run, so the view
a dashboard shows is what the gate saw, and a dashboard refresh does not re-run seconds of checks.
NOT NULL is not checked: Snowflake and the local target both enforce it, so such a check could never
fail.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from incidents.errors import NotDeployedError, TargetError
from incidents.output import JsonResult
from incidents.project.deployment import Deployment
from incidents.sql.session import Session, is_missing_object

SAMPLES = 5
RESULTS_TABLE = "data_quality_results"


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
    checked_at: str
    passed: int  # checks that found nothing
    failed: tuple[FailedCheck, ...]
    recorded: bool  # written to data_quality_results

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "ok": self.ok, "checked_at": self.checked_at, "passed": self.passed,
                "recorded": self.recorded, "failed": [f.to_dict() for f in self.failed]}


def run_checks(session: Session, dep: Deployment, where: str, *, record: bool = True) -> CheckResult:
    """Run every check; with `record`, store the outcome under one checked_at (UTC) and read it back."""
    if record and dep.project.table(RESULTS_TABLE) is None:
        raise NotDeployedError(f"config/tables/ declares no {RESULTS_TABLE} table, where `check` records its "
                               "runs; add it back, or run `incidents check --no-record`")
    checked_at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    insert, read_back, look = check_statements(dep, checked_at, pii_role=masking_role(session, dep))
    try:
        if record:
            session.execute(insert, obj=RESULTS_TABLE)
            rows = session.query(read_back, obj=RESULTS_TABLE)
        else:
            rows = session.query(look, obj="data checks")
    except TargetError as exc:
        if is_missing_object(exc):
            raise NotDeployedError(f"a table the checks read (or {RESULTS_TABLE}) does not exist in "
                                   f"{dep.database}.{dep.schema}: run `incidents deploy` first") from None
        raise
    return _result(dep.env.name, where, checked_at, rows, record)


def masking_role(session: Session, dep: Deployment) -> str | None:
    """The pii_reader role where masking policies are deployed (a target with roles, Enterprise): the
    duplicate check of a PII key runs only for a session holding it (check/problems.sql.j2)."""
    access = dep.env.access
    if access is None or not session.access_control or not dep.env.masks_with_policies:
        return None
    return access.role("pii_reader").name.upper()


def check_statements(dep: Deployment, checked_at: str, pii_role: str | None = None) -> tuple[str, str, str]:
    """(record the run, read it back, run without recording), for the run at `checked_at` (UTC)."""
    return (dep.render("check/run.sql.j2", samples=SAMPLES, checked_at=checked_at, record=True, pii_role=pii_role),
            dep.render("check/results.sql.j2", samples=SAMPLES, checked_at=checked_at),
            dep.render("check/run.sql.j2", samples=SAMPLES, checked_at=checked_at, record=False, pii_role=pii_role))


def statements_to_validate(dep: Deployment) -> list[tuple[str, str]]:
    """(source, statement) of `incidents check` for offline validation: the recorded run, its
    read-back and the look-only run, in their Snowflake form (with masking where the environment has it)."""
    access = dep.env.access
    pii_role = access.role("pii_reader").name.upper() if access and dep.env.masks_with_policies else None
    return [("templates/check/", s) for s in check_statements(dep, "2000-01-01 00:00:00.000000", pii_role)]


def _result(env: str, where: str, checked_at: str, rows: list[dict[str, Any]], recorded: bool) -> CheckResult:
    groups: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["CHECK_NAME"], row["TABLE_NAME"], row["COLUMN_NAME"]), []).append(row)
    failed = tuple(
        FailedCheck(check, table, column, int(members[0]["FAILURES"]),
                    tuple((m["RECORD_KEY"], m["DETAIL"]) for m in members))
        for (check, table, column), members in groups.items() if int(members[0]["FAILURES"])
    )
    return CheckResult(env, where, checked_at, len(groups) - len(failed), failed, recorded)
