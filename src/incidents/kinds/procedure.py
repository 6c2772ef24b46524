"""Stored procedures (Snowflake Scripting, `$$` bodies): the audit of direct UPDATEs, the retention
purge, and the optional alert intake of sql/06 (the very statements of `incidents ingest`'s pass).

Their bodies are rendered here from templates/audit/, templates/purge/ and templates/ingest/, and
checked statement by statement offline (inside a `$$` body sqlglot sees only a string). The purge
and ingest features run the same statements themselves (`purge_statements`, `ingest_pass`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from incidents.kinds.access_object import (
    ACCESS_SKIPPED,
    INTAKE_FILE,
    INTAKE_GROUP,
    QNAME,
    TASKS_FILE,
    check_forms,
    form,
    object_changes,
    object_steps,
)
from incidents.kinds.base import (
    Change,
    Desired,
    DiffContext,
    Forms,
    Kind,
    ObjectKind,
    PlanContext,
    Step,
    one_statement,
    statement,
)
from incidents.kinds.stream import AUDIT_GROUP, AUDIT_STREAM, INTAKE_STREAM
from incidents.project.deployment import Deployment
from incidents.project.ingest import INGEST_FILE, IngestConfig, ingest_file_exists, load_ingest_config
from incidents.project.models import Table
from incidents.sql import identifiers

PROCEDURE = ObjectKind("procedure")
AUDIT_PROCEDURE, PURGE_PROCEDURE, INTAKE_PROCEDURE = "audit_incident_changes", "purge_expired_rows", "ingest_raw_alerts"
PURGE_GROUP = 1
AUDIT_EMAIL = "audit@system.incidents.invalid"  # the system user audit rows are written by
AUDIT_KEY = "system:audit"  # its users.user_key: found by that, never by the (masked) e-mail

EPISODES_TABLE = "ingest_episodes"
INTAKE_QUEUE = "ingest_queue"  # its table is kinds.intake's
SYSTEM_USER_KEY = "system:alertmanager"  # users.user_key of the account ingest writes as
# The writes of one ingest pass, in order, inside one transaction.
PASS_WRITES = ("insert_incidents", "link_alerts", "status_history", "history_times", "comments", "update_incidents")
# Every statement of one pass as the scheduled intake procedure runs it: the fingerprints the stream
# brought are queued, and dequeued in the pass's own transaction (a failed run leaves them queued).
INTAKE_STATEMENTS = ("enqueue", "system_user_adopt", "system_user", "drop_episodes", "episodes", "begin",
                     *PASS_WRITES, "dequeue", "commit", "drop_episodes")


class Procedures(Kind):
    name = "procedure"
    object_kinds = (PROCEDURE,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    forms: ClassVar[Forms] = {
        # https://docs.snowflake.com/en/sql-reference/sql/call : our procedures take no arguments.
        "call_procedure": form(rf"CALL (?P<procedure>{QNAME})\(\)"),
    }

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        return [*_audit(dep), *_purge(dep), *_intake(dep)]

    def check_statement(self, statement: str, source: str) -> bool:
        if "!" in statement.split("(", 1)[0]:  # CALL <model>!<method>(): kinds.ml_model's
            return False
        return check_forms(self.forms, ("CALL ",), statement, source)

    def changes(self, dc: DiffContext) -> list[Change]:
        return object_changes(dc, dc.desired.objects.get(self.name, ()))

    def steps(self, pc: PlanContext) -> list[Step]:
        return object_steps(pc, pc.desired.objects.get(self.name, ()))


def _procedure(dep: Deployment, template: str, name: str, statements: Sequence[str], *, comment: str = "",
               **extra: Any) -> str:
    # One statement: its body is a $$ string, which `dollar_quoted` refuses to end early.
    sql = dep.sql(template, procedure=name, statements=list(statements), comment=comment, **extra)
    return one_statement(sql, f"procedure {name}", "config/project.yml")


def _audit(dep: Deployment) -> list[Desired]:
    access = dep.env.access
    if access is None or access.audit_minutes is None or dep.project.table("incidents") is None:
        return []
    body = tuple(statement(dep, f"audit/{name}", f"procedure {AUDIT_PROCEDURE}", stream=AUDIT_STREAM,
                           audit_email=AUDIT_EMAIL, audit_key=AUDIT_KEY)
                 for name in ("system_user_adopt", "system_user", "status_history", "assignment_history"))
    sql = _procedure(dep, "audit/procedure", AUDIT_PROCEDURE, body, comment=(
        "Writes status and assignment history rows for direct UPDATEs of incidents that recorded none "
        "(incidents audit)"))
    return [Desired(PROCEDURE, AUDIT_PROCEDURE, (sql,), body=body, file=TASKS_FILE, file_order=(AUDIT_GROUP, 1))]


def purge_statements(dep: Deployment, *, now_sql: str) -> list[tuple[Table, str]]:
    """One DELETE per table with `retention:`, children first (config refuses retention on a table
    other tables reference, so no purge can orphan a row). `now_sql`: the moment ages are measured from."""
    return [(t, dep.sql("purge/delete", table=t, now_sql=now_sql)) for t in retained_tables(dep)]


def retained_tables(dep: Deployment) -> tuple[Table, ...]:
    """Tables with `retention:`, children before parents (project.tables lists parents first)."""
    return tuple(t for t in reversed(dep.project.tables) if t.retention)


def _purge(dep: Deployment) -> list[Desired]:
    access = dep.env.access
    body = tuple(s for _, s in purge_statements(dep, now_sql="SYSDATE()"))
    if access is None or access.purge_schedule is None or not body:
        return []
    sql = _procedure(dep, "purge/procedure", PURGE_PROCEDURE, body)
    return [Desired(PROCEDURE, PURGE_PROCEDURE, (sql,), body=body, file=TASKS_FILE, file_order=(PURGE_GROUP, 0))]


def ingest_pass(dep: Deployment, cfg: IngestConfig, name: str, *, now_sql: str, qualified: bool, **extra: Any) -> str:
    """One statement of the ingest pass. `now_sql` is the pass's time as SQL (a literal, or SYSDATE() in
    the scheduled procedure); the episodes table is qualified except on the local target (fakesnow
    refuses a qualified temporary table name). `group` of `groups`: the share of the load's
    fingerprints this pass takes; `queue`/`stream`: the intake procedure's (None: `incidents ingest`)."""
    episodes = dep.fq(EPISODES_TABLE) if qualified else identifiers.quote(EPISODES_TABLE)
    return dep.render(f"ingest/{name}.sql.j2", cfg=cfg, now_sql=now_sql, episodes=episodes,
                      system_user_key=SYSTEM_USER_KEY,
                      **{"load_id": None, "queue": None, "stream": None, "group": 0, "groups": 1, **extra})


def intake_pass(dep: Deployment) -> tuple[str, ...]:
    """The pass as the scheduled intake procedure runs it."""
    cfg = load_ingest_config(dep.project)
    return tuple(ingest_pass(dep, cfg, name, now_sql="SYSDATE()", qualified=True, queue=INTAKE_QUEUE,
                             stream=INTAKE_STREAM).strip() for name in INTAKE_STATEMENTS)


def _intake(dep: Deployment) -> list[Desired]:
    if not ingest_file_exists(dep.project.root):
        return []
    cfg = load_ingest_config(dep.project)
    body = intake_pass(dep)
    sql = dep.sql("ingest/intake/procedure", procedure=INTAKE_PROCEDURE, statements=list(body), cfg=cfg)
    return [Desired(PROCEDURE, INTAKE_PROCEDURE, (one_statement(sql, f"procedure {INTAKE_PROCEDURE}", INGEST_FILE),),
                    body=body, file=INTAKE_FILE, file_order=(INTAKE_GROUP, 4), deployed=False, source=INGEST_FILE)]
