"""Scheduled tasks: the audit task (when the audit stream has data), the retention purge (on its
schedule), and the optional alert intake of sql/06. Deployed tasks are made with CREATE OR REPLACE (a
changed schedule takes effect) and then resumed; without a warehouse a task is serverless."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from incidents.kinds.access_object import (
    ACCESS_SKIPPED,
    INTAKE_FILE,
    INTAKE_GROUP,
    MISSING_ACCESS_OBJECT,
    NAME,
    QNAME,
    STRING,
    TASKS_FILE,
    check_forms,
    compared,
    form,
    object_changes,
    object_steps,
)
from incidents.kinds.base import (
    Change,
    ChangeKind,
    Desired,
    DiffContext,
    Forms,
    Kind,
    LiveState,
    ObjectKind,
    PlanContext,
    Step,
    statement,
)
from incidents.kinds.procedure import (
    AUDIT_PROCEDURE,
    INTAKE_PROCEDURE,
    PURGE_GROUP,
    PURGE_PROCEDURE,
)
from incidents.kinds.stream import AUDIT_GROUP, AUDIT_STREAM, INTAKE_STREAM
from incidents.project.deployment import Deployment
from incidents.project.ingest import INGEST_FILE, ingest_file_exists, load_ingest_config
from incidents.project.models import Access
from incidents.sql import identifiers
from incidents.sql.session import Session

TASK = ObjectKind("task")
SUSPENDED_TASK = ChangeKind("suspended_task")
AUDIT_TASK, PURGE_TASK, INTAKE_TASK = "audit_incident_changes_task", "purge_expired_rows_task", "ingest_raw_alerts_task"
SCHEDULE = r"'(?:\d{1,5} MINUTES?|USING CRON (?:\S+ ){5}[A-Za-z_/]+)'"


class Tasks(Kind):
    name = "task"
    object_kinds = (TASK,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    change_kinds = (SUSPENDED_TASK,)
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

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        """The state of every task in the schema, one SHOW TASKS (a task suspended by hand or by
        Snowflake after failures is drift)."""
        if not compared(dep, live) or not live.schema_exists or not self.desired(dep):
            return
        rows = session.query(dep.sql("introspect/tasks", fq_schema=identifiers.qualify(dep.database, dep.schema)),
                             obj="tasks")
        live.extra[self.name] = {str(r.get("NAME", "")).upper(): str(r.get("STATE", "")).lower() for r in rows}

    def changes(self, dc: DiffContext) -> list[Change]:
        changes = object_changes(dc, dc.desired.objects.get(self.name, ()))
        states: dict[str, str] | None = dc.live.extra.get(self.name)
        if states is None:
            return changes
        named = {c.object for c in changes}
        for obj in dc.desired.objects.get(self.name, ()):
            if not obj.deployed or obj.name in named:
                continue
            state = states.get(obj.name.upper())
            if state is None:
                changes.append(Change(MISSING_ACCESS_OBJECT, TASK, obj.name, detail="task does not exist"))
            elif state != "started":
                changes.append(Change(SUSPENDED_TASK, TASK, obj.name, live=state,
                                      detail=f"task is {state}; deploy creates and resumes it again"))
        return changes

    def steps(self, pc: PlanContext) -> list[Step]:
        return object_steps(pc, pc.desired.objects.get(self.name, ()), also=(SUSPENDED_TASK,))

    def check_statement(self, statement: str, source: str) -> bool:
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
    what = f"task {INTAKE_TASK}"
    # OR REPLACE, then RESUME: running the file again applies a changed definition and starts it.
    create = statement(dep, "ingest/intake/task", what, cfg=cfg, task=INTAKE_TASK, procedure=INTAKE_PROCEDURE,
                       stream=INTAKE_STREAM)
    return [Desired(TASK, INTAKE_TASK, (create, statement(dep, "access/resume_task", what, task=INTAKE_TASK)),
                    file=INTAKE_FILE, file_order=(INTAKE_GROUP, 5), deployed=False, source=INGEST_FILE)]
