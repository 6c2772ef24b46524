"""The live grants of the functional roles, in a number of queries fixed by the number of roles
(2 per role + 1), never one per object: SHOW GRANTS TO ROLE and SHOW GRANTS OF ROLE for each role,
SHOW FUTURE GRANTS IN SCHEMA once.

Only grants inside the project's database and schema are read back (a role's grants elsewhere,
such as warehouse usage, are not ours to compare); OWNERSHIP is never a grant we declare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from incidents.access.desired import Grant
from incidents.errors import TargetError
from incidents.models import HISTORY_TABLE, LOCK_TABLE, Environment, Project
from incidents.render import context
from incidents.sql.session import Session, is_missing_object
from incidents.sql.templating import render_template

_OWN_TABLES = {HISTORY_TABLE.upper(), LOCK_TABLE.upper()}  # the tool's bookkeeping: a future grant may reach them
_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')


@dataclass
class LiveAccess:
    roles: set[str] = field(default_factory=set)  # functional roles that exist (upper case)
    grants: set[Grant] = field(default_factory=set)


def name_parts(name: str) -> list[str]:
    """`DB.SCHEMA."odd name"` -> ['DB', 'SCHEMA', 'odd name']: unquoted parts as reported (upper case)."""
    return [m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2) for m in _PART.finditer(name)]


def read_live_access(session: Session, project: Project, env: Environment) -> LiveAccess:
    from incidents.plan import live_ident

    assert env.access is not None
    ctx = context(project, env, live_ident=live_ident)
    live = LiveAccess()
    for role in env.access.roles:
        name = role.name.upper()
        try:
            held = session.query(render_template(project.templates_dir, "introspect/grants_to_role.sql.j2",
                                                 **ctx, role=name), obj=f"role {name}")
        except TargetError as exc:
            if is_missing_object(exc):
                continue  # the role does not exist (or this role may not see it): all of it is missing
            raise
        live.roles.add(name)
        live.grants |= {g for g in (_held(r, name, env) for r in held) if g is not None}
        members = session.query(render_template(project.templates_dir, "introspect/grants_of_role.sql.j2",
                                                **ctx, role=name), obj=f"role {name}")
        live.grants |= {Grant("ROLE", str(r["GRANTEE_NAME"]).upper(), "USAGE", name) for r in members
                        if str(r.get("GRANTED_TO", "")).upper() == "ROLE"}
    if live.roles:
        live.grants |= _future(session, project, env, ctx, live.roles)
    return live


def _held(row: dict[str, Any], role: str, env: Environment) -> Grant | None:
    privilege, on = str(row["PRIVILEGE"]).upper(), str(row["GRANTED_ON"]).upper()
    if privilege == "OWNERSHIP":
        return None
    parts = [p.upper() for p in name_parts(str(row["NAME"]))]
    db, schema = env.database.upper(), env.schema.upper()
    if on == "DATABASE" and parts == [db]:
        return Grant("DATABASE", db, privilege, role)
    if on == "SCHEMA" and parts == [db, schema]:
        return Grant("SCHEMA", f"{db}.{schema}", privilege, role)
    if on in ("TABLE", "VIEW") and len(parts) == 3 and parts[:2] == [db, schema] and parts[2] not in _OWN_TABLES:
        return Grant(on, parts[2], privilege, role)
    return None


def _future(session: Session, project: Project, env: Environment, ctx: dict[str, Any], roles: set[str]) -> set[Grant]:
    try:
        rows = session.query(render_template(project.templates_dir, "introspect/future_grants.sql.j2", **ctx),
                             obj=f"schema {env.schema}")
    except TargetError as exc:
        if is_missing_object(exc):
            return set()
        raise
    where = f"{env.database}.{env.schema}".upper()
    return {Grant(f"FUTURE {str(r['GRANT_ON']).upper()}S", where, str(r["PRIVILEGE"]).upper(),
                  str(r["GRANTEE_NAME"]).upper())
            for r in rows
            if str(r["GRANTEE_NAME"]).upper() in roles and str(r.get("GRANT_TO", "ROLE")).upper() == "ROLE"}
