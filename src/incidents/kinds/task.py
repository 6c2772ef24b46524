"""Scheduled tasks: the audit task (when the audit stream has data), the retention purge (on its
schedule), and the optional alert intake of sql/06. Deployed tasks are made with CREATE OR REPLACE (a
changed schedule takes effect) and then resumed; without a warehouse a task is serverless."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from incidents.errors import ConfigError
from incidents.kinds.access_object import (
    ACCESS_SKIPPED,
    NAME,
    QNAME,
    STRING,
    TASKS_FILE,
    check_forms,
    form,
    object_changes,
    object_steps,
)
from incidents.kinds.base import Change, Desired, DiffContext, Forms, Kind, ObjectKind, PlanContext, Step, statement
from incidents.kinds.procedure import (
    AUDIT_PROCEDURE,
    INTAKE_FILE,
    INTAKE_GROUP,
    INTAKE_PROCEDURE,
    PURGE_GROUP,
    PURGE_PROCEDURE,
)
from incidents.kinds.stream import AUDIT_GROUP, AUDIT_STREAM
from incidents.project.deployment import Deployment
from incidents.project.ingest import INGEST_FILE, ingest_file_exists, load_ingest_config
from incidents.project.models import Access

TASK = ObjectKind("task")
AUDIT_TASK, PURGE_TASK, INTAKE_TASK = "audit_incident_changes_task", "purge_expired_rows_task", "ingest_raw_alerts_task"
SCHEDULE = r"'(?:\d{1,5} MINUTES?|USING CRON (?:\S+ ){5}[A-Za-z_/]+)'"
_INTAKE_TASK = re.compile(
    rf"CREATE\s+TASK\s+IF\s+NOT\s+EXISTS\s+{QNAME}(?:\s+WAREHOUSE\s*=\s*{NAME})?\s+SCHEDULE\s*=\s*'\d+ MINUTE'"
    rf"(?:\s+COMMENT\s*=\s*{STRING})?\s+AS\s+CALL\s+{QNAME}\(\)", re.S | re.I)


class Tasks(Kind):
    name = "task"
    object_kinds = (TASK,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    forms: ClassVar[Forms] = {
        # https://docs.snowflake.com/en/sql-reference/sql/create-task : WAREHOUSE, SCHEDULE, COMMENT, WHEN, AS, in
        # that order; without WAREHOUSE the task is serverless.
        "create_task": form(rf"CREATE OR REPLACE TASK (?P<task>{QNAME})(?: WAREHOUSE = {NAME})? SCHEDULE = {SCHEDULE}"
                            rf"(?: COMMENT = {STRING})?(?: WHEN SYSTEM\$STREAM_HAS_DATA\({STRING}\))? "
                            rf"AS CALL (?P<procedure>{QNAME})\(\)"),
        # https://docs.snowflake.com/en/sql-reference/sql/alter-task
        "alter_task": form(rf"ALTER TASK (?P<task>{QNAME}) (?:RESUME|SUSPEND)"),
    }

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        found = []
        access = dep.env.access
        if access is not None and access.audit_minutes is not None and dep.project.table("incidents") is not None:
            found.append(_task(dep, access, AUDIT_TASK, AUDIT_PROCEDURE, f"{access.audit_minutes} MINUTE",
                               "Runs the incidents audit when the stream has changes", (AUDIT_GROUP, 2),
                               when_stream=dep.fq(AUDIT_STREAM)))
        if access is not None and access.purge_schedule is not None and any(t.retention for t in dep.project.tables):
            found.append(_task(dep, access, PURGE_TASK, PURGE_PROCEDURE, access.purge_schedule,
                               "Runs incidents purge on a schedule", (PURGE_GROUP, 1)))
        return found + _intake(dep)

    def changes(self, dc: DiffContext) -> list[Change]:
        return object_changes(dc, dc.desired.objects.get(self.name, ()))

    def steps(self, pc: PlanContext) -> list[Step]:
        return object_steps(pc, pc.desired.objects.get(self.name, ()))

    def check_statement(self, statement: str, source: str) -> bool:
        head = " ".join(statement.split()[:2]).upper()
        if head == "CREATE TASK":  # the intake task, created suspended and never replaced
            if not _INTAKE_TASK.fullmatch(statement.strip()):
                raise ConfigError(f"CREATE TASK does not follow Snowflake's syntax: {statement.strip()[:120]}",
                                  file=source)
            return True
        return check_forms(self.forms, ("ALTER TASK", "CREATE OR REPLACE TASK"), statement, source)


def _task(dep: Deployment, access: Access, task: str, procedure: str, schedule: str, comment: str,
          order: tuple[int, int], when_stream: str | None = None) -> Desired:
    what = f"task {task}"
    return Desired(TASK, task, (
        statement(dep, "access/task", what, task=task, procedure=procedure, schedule=schedule, access=access,
                  comment=comment, when_stream=when_stream),
        statement(dep, "access/resume_task", what, task=task)), file=TASKS_FILE, file_order=order)


def _intake(dep: Deployment) -> list[Desired]:
    if not ingest_file_exists(dep.project.root):
        return []
    cfg = load_ingest_config(dep.project)
    sql = statement(dep, "ingest/intake/task", f"task {INTAKE_TASK}", cfg=cfg, task=INTAKE_TASK,
                    procedure=INTAKE_PROCEDURE)
    return [Desired(TASK, INTAKE_TASK, (sql,), file=INTAKE_FILE, file_order=(INTAKE_GROUP, 3), deployed=False,
                    source=INGEST_FILE)]
