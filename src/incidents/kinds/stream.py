"""Streams: the audit stream on `incidents` (Snowflake has no triggers; the audit task reads the
UPDATEs from it), and the intake's append-only stream on raw_alerts (sql/06, run by hand). Created
IF NOT EXISTS, which keeps the changes not read yet, and made again with CREATE OR REPLACE when its
table was dropped and created anew (a stream on a dropped table is stale).

Live: one SHOW STREAMS per schema. A deployed stream that is stale (its offset fell outside the table's
retention, or its table was replaced) can no longer be read and cannot be refreshed: diff names it and
deploy makes it again with CREATE OR REPLACE (https://docs.snowflake.com/en/user-guide/streams-intro ,
"Data retention period and staleness"); the changes it had not returned are lost either way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from incidents.kinds.access_object import (
    ACCESS_SKIPPED,
    INTAKE_FILE,
    INTAKE_GROUP,
    MISSING_ACCESS_OBJECT,
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
from incidents.project.deployment import Deployment
from incidents.project.ingest import INGEST_FILE, ingest_file_exists
from incidents.sql import identifiers
from incidents.sql.session import Session

STREAM = ObjectKind("stream")
STALE_STREAM = ChangeKind("stale_stream")
AUDIT_STREAM = "incidents_audit_stream"
INTAKE_STREAM = "raw_alerts_stream"  # what the intake task reads: rows landed in raw_alerts since its last run
AUDIT_GROUP = 0  # the audit stream, procedure and task stand together in sql/05


class Streams(Kind):
    name = "stream"
    object_kinds = (STREAM,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    change_kinds = (STALE_STREAM,)
    forms: ClassVar[Forms] = {
        # https://docs.snowflake.com/en/sql-reference/sql/create-stream
        "create_stream": form(rf"CREATE (?:OR REPLACE STREAM|STREAM IF NOT EXISTS) (?P<stream>{QNAME}) ON TABLE "
                              rf"(?P<table>{QNAME})(?: APPEND_ONLY = (?:TRUE|FALSE))?"
                              rf"(?: SHOW_INITIAL_ROWS = (?:TRUE|FALSE))?(?: COMMENT = {STRING})?"),
    }

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        return [*_audit(dep), *_intake(dep)]

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        """Every stream of the schema and whether it is stale, one SHOW STREAMS."""
        if not compared(dep, live) or not live.schema_exists or not any(s.deployed for s in self.desired(dep)):
            return
        rows = session.query(dep.sql("introspect/streams", fq_schema=identifiers.qualify(dep.database, dep.schema)),
                             obj="streams")
        # SHOW output gives `stale` as the text true or false.
        live.extra[self.name] = {str(r.get("NAME", "")).upper(): (str(r.get("STALE", "")).lower() == "true",
                                                                  r.get("STALE_AFTER")) for r in rows}

    def changes(self, dc: DiffContext) -> list[Change]:
        changes = object_changes(dc, dc.desired.objects.get(self.name, ()))
        streams: dict[str, tuple[bool, object]] | None = dc.live.extra.get(self.name)
        if streams is None:
            return changes
        named = {c.object for c in changes}
        for obj in dc.desired.objects.get(self.name, ()):
            if not obj.deployed or obj.name in named or (obj.on_table or "").upper() not in dc.live.tables:
                continue  # a missing table's own change says it; deploy makes its streams again after creating it
            found = streams.get(obj.name.upper())
            if found is None:
                changes.append(Change(MISSING_ACCESS_OBJECT, STREAM, obj.name, detail="stream does not exist"))
            elif found[0]:
                since = f" (stale after {found[1]})" if found[1] else ""
                changes.append(Change(STALE_STREAM, STREAM, obj.name, live=f"stale{since}",
                                      detail="stream is stale: its changes cannot be read and it cannot be "
                                             "refreshed; deploy makes it again (CREATE OR REPLACE)"))
        return changes

    def steps(self, pc: PlanContext) -> list[Step]:
        return object_steps(pc, pc.desired.objects.get(self.name, ()), remade=(STALE_STREAM,))

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
