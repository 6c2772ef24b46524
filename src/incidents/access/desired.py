"""What access config declares for one environment: roles, the exact set of grants, and the objects
around them (masking policies, tags, secure views, the audit stream and the scheduled tasks).

Pure: renders templates, runs nothing. Grants are data (`Grant`), compared one by one with the live
grants (access.live), so a grant added or revoked by hand shows up in `diff`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from incidents import identifiers
from incidents.kinds import ObjectKind
from incidents.models import Access, AccessRole, Environment, Project, Table
from incidents.render import Rendered, checksum, context, one_statement
from incidents.templating import render_template

ACCESS_FILE = "sql/04_access.sql"
TASKS_FILE = "sql/05_audit_and_retention.sql"
TAG = "classification"
STREAM = "incidents_audit_stream"
AUDIT_PROCEDURE, AUDIT_TASK = "audit_incident_changes", "audit_incident_changes_task"
PURGE_PROCEDURE, PURGE_TASK = "purge_expired_rows", "purge_expired_rows_task"
AUDIT_EMAIL = "audit@system.incidents.invalid"  # the system user audit rows are written by
AUDIT_KEY = "system:audit"  # its users.user_key: found by that, never by the (masked) e-mail
MASKED_SUFFIX = "_masked"  # Standard Edition: <table>_masked, the secure view with PII masked


@dataclass(frozen=True, order=True)
class Grant:
    """One privilege of one functional role, names upper case as Snowflake reports them. `on` is
    DATABASE, SCHEMA, TABLE, VIEW, FUTURE TABLES, FUTURE VIEWS, or ROLE: the functional role
    `role` granted to the account role `name`."""

    on: str
    name: str
    privilege: str
    role: str

    def __str__(self) -> str:
        if self.on == "ROLE":
            return f"ROLE {self.role} TO ROLE {self.name}"
        where = f"{self.on} IN SCHEMA" if self.on.startswith("FUTURE") else self.on
        return f"{self.privilege} ON {where} {self.name} TO ROLE {self.role}"


@dataclass(frozen=True)
class AccessObject:
    """A policy, tag, secure view, stream, procedure or task: its statements run in order, and its
    checksum is recorded in the deploy history like a view's."""

    kind: ObjectKind
    name: str
    statements: tuple[str, ...]
    body: tuple[str, ...] = ()  # a procedure's statements (validate parses them one by one)
    on_table: str | None = None  # the table it is set on or reads: made again when the table is new
    recreate: tuple[str, ...] = ()  # the statements that make it again then (default: `statements`)

    @property
    def statements_on_new_table(self) -> tuple[str, ...]:
        return self.recreate or self.statements

    @property
    def checksum(self) -> str:
        return checksum("\n".join(self.statements))


@dataclass(frozen=True)
class DesiredAccess:
    roles: tuple[AccessRole, ...]
    grants: frozenset[Grant]
    objects: tuple[AccessObject, ...]
    masked_views: tuple[str, ...]  # Standard Edition's secure views (upper case): not stray views

    def role_sql(self, project: Project, env: Environment, role: AccessRole) -> str:
        return _sql(project, env, "access/role", role=role)

    def grant_sql(self, project: Project, env: Environment, grant: Grant, *, revoke: bool = False) -> str:
        return _sql(project, env, "access/grant", grant=grant, revoke=revoke)


def _sql(project: Project, env: Environment, template: str, **extra: Any) -> str:
    from incidents.plan import live_ident

    sql = render_template(project.templates_dir, f"{template}.sql.j2",
                          **context(project, env, live_ident=live_ident), **extra).strip()
    return one_statement(Rendered("access", template, sql), "config/project.yml").sql


def pii_tables(project: Project) -> tuple[Table, ...]:
    return tuple(t for t in project.tables if any(c.pii for c in t.columns))


def lifecycle_tables(project: Project) -> tuple[Table, ...]:
    """What the writer role may change: every table but the reference tables deploy owns."""
    return tuple(t for t in project.tables if t.reference_data is None)


def desired_access(project: Project, env: Environment) -> DesiredAccess | None:
    access = env.access
    if access is None:
        return None
    masked = tuple(f"{t.name}{MASKED_SUFFIX}" for t in pii_tables(project)) if not env.masks_with_policies else ()
    return DesiredAccess(access.roles, frozenset(_grants(project, env, access, masked)),
                         tuple(_objects(project, env, access, masked)), tuple(v.upper() for v in masked))


def _grants(project: Project, env: Environment, access: Access, masked: tuple[str, ...]) -> list[Grant]:
    views = [v.name.upper() for v in project.views]
    pii = {t.name for t in pii_tables(project)}
    tables = [t.name.upper() for t in project.tables]
    analyst_tables = tables if env.masks_with_policies else [t.name.upper() for t in project.tables
                                                             if t.name not in pii]
    grants: list[Grant] = []
    for role in access.roles:
        name = role.name.upper()
        grants += [Grant("ROLE", account.upper(), "USAGE", name) for account in role.granted_to]
        grants += [Grant("DATABASE", env.database.upper(), "USAGE", name),
                   Grant("SCHEMA", f"{env.database}.{env.schema}".upper(), "USAGE", name)]
        # The secure views hold PII masked; every role may read them (its future grant on views would
        # give it them anyway).
        select_views = views + [v.upper() for v in masked]
        grants += [Grant("VIEW", v, "SELECT", name) for v in select_views]
        future = ["VIEWS"]
        if role.kind == "analyst":
            grants += [Grant("TABLE", t, "SELECT", name) for t in analyst_tables]
            future += ["TABLES"] if env.masks_with_policies else []
        elif role.kind == "pii_reader":
            grants += [Grant("TABLE", t, "SELECT", name) for t in tables]
            future += ["TABLES"]
        elif role.kind == "writer":
            grants += [Grant("TABLE", t.name.upper(), privilege, name) for t in lifecycle_tables(project)
                       for privilege in ("SELECT", "INSERT", "UPDATE")]
        if access.future_grants:
            grants += [Grant(f"FUTURE {what}", f"{env.database}.{env.schema}".upper(), "SELECT", name)
                       for what in future]
    return grants


def _objects(project: Project, env: Environment, access: Access, masked: tuple[str, ...]) -> list[AccessObject]:
    pii_role = access.role("pii_reader").name.upper()
    objects: list[AccessObject] = []
    if env.masks_with_policies:
        kinds = sorted({c.pii for t in pii_tables(project) for c in t.columns if c.pii})
        for kind in kinds:
            policy = f"pii_{kind}_mask"
            objects.append(AccessObject(ObjectKind.MASKING_POLICY, policy, (
                _sql(project, env, "access/masking_policy", policy=policy, kind=kind, pii_role=pii_role),
                _sql(project, env, "access/masking_policy_body", policy=policy, kind=kind, pii_role=pii_role))))
        objects.append(AccessObject(ObjectKind.TAG, TAG, (_sql(project, env, "access/tag", tag=TAG),)))
        for table in pii_tables(project):
            statements = []
            for column in (c for c in table.columns if c.pii):
                statements += [_sql(project, env, "access/set_masking_policy", table=table, column=column,
                                    policy=f"pii_{column.pii}_mask"),
                               _sql(project, env, "access/set_tag", table=table, column=column, tag=TAG)]
            objects.append(AccessObject(ObjectKind.MASKING_POLICY, f"{table.name}.pii", tuple(statements),
                                        on_table=table.name))
    else:
        for table, view_name in zip(pii_tables(project), masked, strict=True):
            objects.append(AccessObject(ObjectKind.SECURE_VIEW, view_name, (
                _sql(project, env, "access/masked_view", table=table, view_name=view_name, pii_role=pii_role),),
                on_table=table.name))
    objects += _audit_objects(project, env, access)
    objects += _purge_objects(project, env, access)
    return objects


def _audit_objects(project: Project, env: Environment, access: Access) -> list[AccessObject]:
    if access.audit_minutes is None or project.table("incidents") is None:
        return []
    ctx = {"stream": STREAM, "audit_email": AUDIT_EMAIL, "audit_key": AUDIT_KEY}
    statements = [_sql(project, env, f"audit/{name}", **ctx)
                  for name in ("system_user_adopt", "system_user", "status_history", "assignment_history")]
    stream_name = identifiers.qualify(env.database, env.schema, STREAM)
    return [
        AccessObject(ObjectKind.STREAM, STREAM, (_sql(project, env, "audit/stream", stream=STREAM, replace=False),),
                     on_table="incidents",
                     recreate=(_sql(project, env, "audit/stream", stream=STREAM, replace=True),)),
        AccessObject(ObjectKind.PROCEDURE, AUDIT_PROCEDURE, (_procedure(project, env, "audit/procedure",
                     AUDIT_PROCEDURE, statements, "Writes status and assignment history rows for direct "
                     "UPDATEs of incidents that recorded none (incidents audit)"),), tuple(statements)),
        _task(project, env, access, AUDIT_TASK, AUDIT_PROCEDURE, f"{access.audit_minutes} MINUTE",
              "Runs the incidents audit when the stream has changes", when_stream=stream_name),
    ]


def _purge_objects(project: Project, env: Environment, access: Access) -> list[AccessObject]:
    from incidents.access.purge import delete_statements

    statements = delete_statements(project, env, now_sql="SYSDATE()")
    if access.purge_schedule is None or not statements:
        return []
    body = [s for _, s in statements]
    return [
        AccessObject(ObjectKind.PROCEDURE, PURGE_PROCEDURE,
                     (_procedure(project, env, "purge/procedure", PURGE_PROCEDURE, body),), tuple(body)),
        _task(project, env, access, PURGE_TASK, PURGE_PROCEDURE, access.purge_schedule,
              "Runs incidents purge on a schedule"),
    ]


def _procedure(project: Project, env: Environment, template: str, name: str, statements: list[str],
               comment: str = "") -> str:
    sql = render_template(project.templates_dir, f"{template}.sql.j2",
                          **context(project, env, procedure=name, statements=statements, comment=comment)).strip()
    return sql  # one statement: its body is a $$ string (checked by access.grammar)


def _task(project: Project, env: Environment, access: Access, task: str, procedure: str, schedule: str,
          comment: str, when_stream: str | None = None) -> AccessObject:
    ctx = {"task": task, "procedure": procedure, "schedule": schedule, "access": access, "comment": comment,
           "when_stream": when_stream}
    return AccessObject(ObjectKind.TASK, task, (_sql(project, env, "access/task", **ctx),
                                                _sql(project, env, "access/resume_task", task=task)))


def procedure_bodies(desired: DesiredAccess) -> list[tuple[str, str]]:
    return [(obj.name, statement) for obj in desired.objects for statement in obj.body]


_TASK_KINDS = (ObjectKind.STREAM, ObjectKind.PROCEDURE, ObjectKind.TASK)


def access_file(project: Project, env: Environment, desired: DesiredAccess) -> str:
    """sql/04_access.sql: roles, masking (policies and tags, or secure views), then every grant."""
    statements = [desired.role_sql(project, env, role) for role in desired.roles]
    statements += [s for obj in desired.objects if obj.kind not in _TASK_KINDS for s in obj.statements]
    statements += [desired.grant_sql(project, env, g) for g in sorted(desired.grants, key=grant_order)]
    return "".join(f"{s};\n\n" for s in statements).rstrip() + "\n"


def tasks_file(desired: DesiredAccess) -> str:
    """sql/05_audit_and_retention.sql: the audit stream, the procedures and their tasks."""
    statements = [s for obj in desired.objects if obj.kind in _TASK_KINDS for s in obj.statements]
    if not statements:
        return "-- No audit or retention task is declared.\n"
    return "".join(f"{s};\n\n" for s in statements).rstrip() + "\n"


_ON_ORDER = ("ROLE", "DATABASE", "SCHEMA", "TABLE", "VIEW", "FUTURE TABLES", "FUTURE VIEWS")


def grant_order(grant: Grant) -> tuple[str, int, str, str]:
    return grant.role, _ON_ORDER.index(grant.on), grant.name, grant.privilege
