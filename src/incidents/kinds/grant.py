"""Grants of the functional roles: the exact set config declares, compared one by one with what
SHOW GRANTS reports, so a grant added or revoked by hand shows up in `diff`. A grant nobody declared
is revoked only with --allow-destructive.

Live: SHOW GRANTS TO ROLE and SHOW GRANTS OF ROLE for each functional role and SHOW FUTURE GRANTS
IN SCHEMA once: 2 per role + 1 queries, never one per object. Only grants inside the project's
database and schema are read back (a role's grants elsewhere, such as warehouse usage, are not ours
to compare); OWNERSHIP is never a grant we declare.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from incidents.errors import ConfigError, TargetError
from incidents.kinds.access_object import (
    ACCESS_FILE,
    ACCESS_SKIPPED,
    NAME,
    QNAME,
    check_forms,
    compared,
    created_and_dropped,
    form,
    normal,
)
from incidents.kinds.base import (
    GRANT_ACTION,
    REVOKE_ACTION,
    Action,
    Change,
    ChangeKind,
    Desired,
    DiffContext,
    Forms,
    Kind,
    LiveState,
    ObjectKind,
    Phase,
    PlanContext,
    Step,
    grouped,
    live_ident,
    statement,
)
from incidents.kinds.dynamic_table import live_dynamic_tables
from incidents.kinds.namespace import DYNAMIC_TABLE, TABLE, VIEW, dropped
from incidents.kinds.secure_view import masked_views
from incidents.project.deployment import Deployment
from incidents.project.models import OWN_TABLES, Access
from incidents.sql.session import Session, is_missing_object

GRANT = ObjectKind("grant")  # object: the functional role the grants are to
MISSING_GRANT, UNEXPECTED_GRANT = ChangeKind("missing_grant"), ChangeKind("unexpected_grant")
PRIVILEGES = r"(?:SELECT|INSERT|UPDATE|DELETE|TRUNCATE|REFERENCES|USAGE)"
_OWN_TABLES = {name.upper() for name in OWN_TABLES}  # the tool's bookkeeping: a future grant may reach them
_ON_ORDER = ("ROLE", "DATABASE", "SCHEMA", "TABLE", "VIEW", "DYNAMIC TABLE", "FUTURE TABLES", "FUTURE VIEWS")
_OBJECTS = ("TABLE", "VIEW", "DYNAMIC TABLE")  # grants on one object of the schema
_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')


@dataclass(frozen=True, order=True)
class Grant:
    """One privilege of one functional role, names upper case as Snowflake reports them. `on` is
    DATABASE, SCHEMA, TABLE, VIEW, DYNAMIC TABLE, FUTURE TABLES, FUTURE VIEWS, or ROLE: the functional
    role `role` granted to the account role `name`."""

    on: str
    name: str
    privilege: str
    role: str

    def __str__(self) -> str:
        if self.on == "ROLE":
            return f"ROLE {self.role} TO ROLE {self.name}"
        where = f"{self.on} IN SCHEMA" if self.on.startswith("FUTURE") else self.on
        return f"{self.privilege} ON {where} {self.name} TO ROLE {self.role}"


def grant_order(grant: Grant) -> tuple[str, int, str, str]:
    return grant.role, _ON_ORDER.index(grant.on), grant.name, grant.privilege


@dataclass
class LiveAccess:
    roles: set[str] = field(default_factory=set)  # functional roles that exist (upper case)
    grants: set[Grant] = field(default_factory=set)


def live_access(live: LiveState) -> LiveAccess:
    """What the grant kind read (nothing exists when it read nothing)."""
    found = live.extra.get("grant")
    return found if isinstance(found, LiveAccess) else LiveAccess()


class Grants(Kind):
    name = "grant"
    object_kinds = (GRANT,)
    change_kinds = (MISSING_GRANT, UNEXPECTED_GRANT)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    forms: ClassVar[Forms] = {
        # https://docs.snowflake.com/en/sql-reference/sql/grant-role , .../revoke-role
        "grant_role": form(rf"(?P<verb>GRANT|REVOKE) ROLE (?P<role>{NAME}) (?:TO|FROM) ROLE (?P<to>{NAME})"),
        # https://docs.snowflake.com/en/sql-reference/sql/grant-privilege (future grants: "ON FUTURE
        # <object_type_plural> IN SCHEMA")
        "grant_future": form(rf"(?P<verb>GRANT|REVOKE) (?P<privilege>{PRIVILEGES}) ON FUTURE (?P<on>TABLES|VIEWS) "
                             rf"IN SCHEMA (?P<name>{QNAME}) (?:TO|FROM) ROLE (?P<role>{NAME})"),
        # A dynamic table's grants name its own object type (https://docs.snowflake.com/en/user-guide/
        # dynamic-tables-privileges: "specify the object type as DYNAMIC TABLE").
        "grant": form(rf"(?P<verb>GRANT|REVOKE) (?P<privilege>{PRIVILEGES}) ON "
                      rf"(?P<on>DATABASE|SCHEMA|TABLE|VIEW|DYNAMIC TABLE) "
                      rf"(?P<name>{QNAME}) (?:TO|FROM) ROLE (?P<role>{NAME})"),
    }

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        access = dep.env.access
        if access is None:
            return []
        return [Desired(GRANT, str(g), (_grant_sql(dep, g),), model=g, file=ACCESS_FILE)
                for g in sorted(set(declared_grants(dep, access)), key=grant_order)]

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        if compared(dep, live):
            live.extra["grant"] = read_live_access(session, dep)

    def changes(self, dc: DiffContext) -> list[Change]:
        """The grants on a missing table or view are not listed: the object's own change says it, and
        deploy grants them right after creating it. Nor are those on a table or view config does not
        declare (a stray, reported as one; made by hand in a schema with future grants, it got them as it
        was created), which go with it when it is dropped."""
        if not compared(dc.dep, dc.live):
            return []
        live = live_access(dc.live)
        desired = {o.model for o in dc.desired.of(GRANT)}
        declared = {o.name.upper() for kind in (TABLE, VIEW, DYNAMIC_TABLE) for o in dc.desired.of(kind)}
        missing_objects = declared - set(dc.live.tables) - set(dc.live.views) - set(live_dynamic_tables(dc.live))
        changes = [Change(MISSING_GRANT, GRANT, g.role, declared=str(g), detail="grant is missing")
                   for g in sorted(desired - live.grants, key=grant_order) if not _on_object(g, missing_objects)]
        strays = {name.upper() for name in (*dc.live.tables, *dc.live.views)} - declared  # as grants name them
        changes += [Change(UNEXPECTED_GRANT, GRANT, g.role, live=str(g), destructive=True,
                           detail="grant is not declared in access config; deploy revokes it with --allow-destructive")
                    for g in sorted(live.grants - desired, key=grant_order) if not _on_object(g, strays)]
        return changes

    def notices(self, steps: Sequence[Step]) -> list[str]:
        """A future grant in a schema switches off, for that schema, the database-level future grants of
        every role: where both exist, the schema's take precedence and the database's are ignored
        (https://docs.snowflake.com/en/sql-reference/sql/grant-privilege, considerations on future grants;
        research/fidelity-2026-12-03.md row 29)."""
        if not any(" ON FUTURE " in sql for step in steps if step.object_kind == GRANT and step.runs
                   for sql in step.statements):
            return []
        return ["future grants in the schema take precedence over database-level future grants: roles that got "
                "new tables or views through `GRANT ... ON FUTURE ... IN DATABASE` no longer do in this schema; "
                "grant them in the schema too (README, \"Access and privacy\")"]

    def steps(self, pc: PlanContext) -> list[Step]:
        if not compared(pc.dep, pc.live):
            return []
        fresh, strays = created_and_dropped(pc)
        blocked = fresh & (strays - dropped(pc))
        missing = {c.declared for c in pc.of_kind(MISSING_GRANT)}
        # A table or view this plan creates has none of its grants yet, whatever was read before it.
        grants = [o.model for o in pc.desired.of(GRANT)
                  if (str(o.model) in missing or _on_object(o.model, fresh)) and not _on_object(o.model, blocked)]
        unexpected = {c.live for c in pc.of_kind(UNEXPECTED_GRANT)}
        # A stray the plan drops takes its grants with it: revoking them afterwards would fail.
        revoked = [g for g in sorted(live_access(pc.live).grants, key=grant_order)
                   if str(g) in unexpected and not _on_object(g, dropped(pc))]
        reason = None if pc.allow_destructive else ("grants not declared in access config; rerun with "
                                                    "--allow-destructive to revoke them")
        revokes = [Step(s.object_kind, s.object, s.action, () if reason else s.statements, destructive=True,
                        refused=reason, phase=Phase.REVOKE) for s in _per_role(pc.dep, revoked, REVOKE_ACTION)]
        inherited = [Step(s.object_kind, s.object, s.action, s.statements, phase=Phase.GRANT)
                     for s in _per_role(pc.dep, _unwanted_future_grants(pc, fresh - blocked), REVOKE_ACTION)]
        return _per_role(pc.dep, grants, GRANT_ACTION) + inherited + revokes

    def check_statement(self, statement: str, source: str) -> bool:
        """Role grants, future grants and grants on a dynamic table (sqlglot reads none of them); a plain
        privilege grant is left to sqlglot."""
        text = normal(statement).upper()
        if not (text.startswith(("GRANT ROLE", "REVOKE ROLE"))
                or re.match(r"(GRANT|REVOKE) \S+ ON (FUTURE|DYNAMIC TABLE) ", text)):
            return False
        check_forms(self.forms, ("GRANT", "REVOKE"), statement, source)
        if text.startswith("GRANT") != (" TO ROLE " in text):
            raise ConfigError(f"GRANT goes with TO, REVOKE with FROM: {normal(statement)[:120]}", file=source)
        return True


def _unwanted_future_grants(pc: PlanContext, fresh: set[str]) -> list[Grant]:
    """What the schema's future grants give a table or view this plan creates that access config does not:
    a new object gets the future grants of its schema when it is created
    (https://docs.snowflake.com/en/sql-reference/sql/grant-privilege , future grants), e.g. analyst's
    SELECT on a `restricted: true` table. Revoked in the same deploy, right after the grants (not destructive:
    nothing but this deploy's own side effect goes)."""
    future = [g for g in live_access(pc.live).grants if g.on in ("FUTURE TABLES", "FUTURE VIEWS")]
    if not future or not fresh:
        return []
    kinds = {"FUTURE TABLES": ("TABLE", {o.name.upper() for o in pc.desired.of(TABLE)}),
             "FUTURE VIEWS": ("VIEW", {o.name.upper() for o in pc.desired.of(VIEW)})}
    declared = {o.model for o in pc.desired.of(GRANT)}
    given = {Grant(kinds[g.on][0], name, g.privilege, g.role) for g in future for name in fresh & kinds[g.on][1]}
    return sorted(given - declared, key=grant_order)


def _grant_sql(dep: Deployment, grant: Grant, *, revoke: bool = False) -> str:
    return statement(dep, "access/grant", f"grant {grant}", grant=grant, revoke=revoke)


def _on_object(grant: Grant, names: set[str]) -> bool:
    return grant.on in _OBJECTS and grant.name in names


def _per_role(dep: Deployment, grants: list[Grant], action: Action) -> list[Step]:
    """One step per role: the roles' grants go out side by side in a parallel deploy."""
    return [Step(GRANT, role, action, tuple(_grant_sql(dep, g, revoke=action == REVOKE_ACTION) for g in role_grants),
                 phase=Phase.GRANT, parallel=action == GRANT_ACTION)
            for role, role_grants in grouped(grants, lambda g: g.role).items()]


def declared_grants(dep: Deployment, access: Access) -> list[Grant]:
    project, env = dep.project, dep.env
    views = [v.name.upper() for v in project.views if v.materialize is None]
    dynamic = [v.name.upper() for v in project.views if v.materialize is not None]
    pii = {t.name for t in project.pii_tables}
    tables = [t.name.upper() for t in project.tables]
    analyst_tables = [t.name.upper() for t in project.tables
                      if not t.restricted and (env.masks_with_policies or t.name not in pii)]
    masked = [v.upper() for v in masked_views(dep)]
    schema = f"{env.database}.{env.schema}".upper()
    grants: list[Grant] = []
    for role in access.roles:
        name = role.name.upper()
        grants += [Grant("ROLE", account.upper(), "USAGE", name) for account in role.granted_to]
        grants += [Grant("DATABASE", env.database.upper(), "USAGE", name), Grant("SCHEMA", schema, "USAGE", name)]
        # The secure views hold PII masked; every role may read them (its future grant on views would
        # give it them anyway).
        grants += [Grant("VIEW", v, "SELECT", name) for v in views + masked]
        grants += [Grant("DYNAMIC TABLE", d, "SELECT", name) for d in dynamic]
        future = ["VIEWS"]
        if role.kind == "analyst":
            grants += [Grant("TABLE", t, "SELECT", name) for t in analyst_tables]
            future += ["TABLES"] if env.masks_with_policies else []
        elif role.kind == "pii_reader":
            grants += [Grant("TABLE", t, "SELECT", name) for t in tables]
            future += ["TABLES"]
        elif role.kind == "writer":
            grants += [Grant("TABLE", t.name.upper(), privilege, name) for t in project.lifecycle_tables
                       for privilege in ("SELECT", "INSERT", "UPDATE")]
        if access.future_grants:
            grants += [Grant(f"FUTURE {what}", schema, "SELECT", name) for what in future]
    return grants


# --------------------------------------------------------------------------- live

def name_parts(name: str) -> list[str]:
    """`DB.SCHEMA."odd name"` -> ['DB', 'SCHEMA', 'odd name']: unquoted parts as reported (upper case)."""
    return [m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2) for m in _PART.finditer(name)]


def read_live_access(session: Session, dep: Deployment) -> LiveAccess:
    access = dep.env.access
    assert access is not None
    live = LiveAccess()
    for role in access.roles:
        name = role.name.upper()
        try:
            held = session.query(dep.render("introspect/grants_to_role.sql.j2", live_ident=live_ident, role=name),
                                 obj=f"role {name}")
        except TargetError as exc:
            if is_missing_object(exc):
                continue  # the role does not exist (or this role may not see it): all of it is missing
            raise
        live.roles.add(name)
        live.grants |= {g for g in (_held(r, name, dep) for r in held) if g is not None}
        members = session.query(dep.render("introspect/grants_of_role.sql.j2", live_ident=live_ident, role=name),
                                obj=f"role {name}")
        live.grants |= {Grant("ROLE", str(r["GRANTEE_NAME"]).upper(), "USAGE", name) for r in members
                        if str(r.get("GRANTED_TO", "")).upper() == "ROLE"}
    if live.roles:
        live.grants |= _future(session, dep, live.roles)
    return live


def _held(row: dict[str, Any], role: str, dep: Deployment) -> Grant | None:
    privilege, on = str(row["PRIVILEGE"]).upper(), str(row["GRANTED_ON"]).upper()
    if privilege == "OWNERSHIP":
        return None
    parts = [p.upper() for p in name_parts(str(row["NAME"]))]
    db, schema = dep.database.upper(), dep.schema.upper()
    if on == "DATABASE" and parts == [db]:
        return Grant("DATABASE", db, privilege, role)
    if on == "SCHEMA" and parts == [db, schema]:
        return Grant("SCHEMA", f"{db}.{schema}", privilege, role)
    on = on.replace("_", " ")  # SHOW GRANTS writes DYNAMIC_TABLE
    if on in _OBJECTS and len(parts) == 3 and parts[:2] == [db, schema] and parts[2] not in _OWN_TABLES:
        return Grant(on, parts[2], privilege, role)
    return None


def _future(session: Session, dep: Deployment, roles: set[str]) -> set[Grant]:
    try:
        rows = session.query(dep.render("introspect/future_grants.sql.j2", live_ident=live_ident),
                             obj=f"schema {dep.schema}")
    except TargetError as exc:
        if is_missing_object(exc):
            return set()
        raise
    where = f"{dep.database}.{dep.schema}".upper()
    return {Grant(f"FUTURE {str(r['GRANT_ON']).upper()}S", where, str(r["PRIVILEGE"]).upper(),
                  str(r["GRANTEE_NAME"]).upper())
            for r in rows
            if str(r["GRANTEE_NAME"]).upper() in roles and str(r.get("GRANT_TO", "ROLE")).upper() == "ROLE"}
