"""Streams: the audit stream on `incidents` (Snowflake has no triggers; the audit task reads the
UPDATEs from it), and the intake's append-only stream on raw_alerts (sql/06, run by hand). Created
IF NOT EXISTS, which keeps the changes not read yet, and made again with CREATE OR REPLACE when its
table was dropped and created anew (a stream on a dropped table is stale)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from incidents.kinds.access_object import (
    ACCESS_SKIPPED,
    INTAKE_FILE,
    INTAKE_GROUP,
    QNAME,
    STRING,
    TASKS_FILE,
    check_forms,
    form,
    object_changes,
    object_steps,
)
from incidents.kinds.base import Change, Desired, DiffContext, Forms, Kind, ObjectKind, PlanContext, Step, statement
from incidents.project.deployment import Deployment
from incidents.project.ingest import INGEST_FILE, ingest_file_exists

STREAM = ObjectKind("stream")
AUDIT_STREAM = "incidents_audit_stream"
INTAKE_STREAM = "raw_alerts_stream"  # what the intake task reads: rows landed in raw_alerts since its last run
AUDIT_GROUP = 0  # the audit stream, procedure and task stand together in sql/05


class Streams(Kind):
    name = "stream"
    object_kinds = (STREAM,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    forms: ClassVar[Forms] = {
        # https://docs.snowflake.com/en/sql-reference/sql/create-stream
        "create_stream": form(rf"CREATE (?:OR REPLACE STREAM|STREAM IF NOT EXISTS) (?P<stream>{QNAME}) ON TABLE "
                              rf"(?P<table>{QNAME})(?: APPEND_ONLY = (?:TRUE|FALSE))?"
                              rf"(?: SHOW_INITIAL_ROWS = (?:TRUE|FALSE))?(?: COMMENT = {STRING})?"),
    }

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        return [*_audit(dep), *_intake(dep)]

    def changes(self, dc: DiffContext) -> list[Change]:
        return object_changes(dc, dc.desired.objects.get(self.name, ()))

    def steps(self, pc: PlanContext) -> list[Step]:
        return object_steps(pc, pc.desired.objects.get(self.name, ()))

    def check_statement(self, statement: str, source: str) -> bool:
        return check_forms(self.forms, ("CREATE STREAM", "CREATE OR REPLACE STREAM"), statement, source)


def _audit(dep: Deployment) -> list[Desired]:
    access = dep.env.access
    if access is None or access.audit_minutes is None or dep.project.table("incidents") is None:
        return []
    what = f"stream {AUDIT_STREAM}"
    create, again = (statement(dep, "audit/stream", what, stream=AUDIT_STREAM, replace=replace)
                     for replace in (False, True))
    return [Desired(STREAM, AUDIT_STREAM, (create,), on_table="incidents", file=TASKS_FILE,
                    file_order=(AUDIT_GROUP, 0), recreate=(again,))]


def _intake(dep: Deployment) -> list[Desired]:
    if not ingest_file_exists(dep.project.root):
        return []
    sql = statement(dep, "ingest/intake/stream", f"stream {INTAKE_STREAM}", stream=INTAKE_STREAM)
    return [Desired(STREAM, INTAKE_STREAM, (sql,), file=INTAKE_FILE, file_order=(INTAKE_GROUP, 2), deployed=False,
                    source=INGEST_FILE)]
