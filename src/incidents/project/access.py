"""`access:` in config/project.yml, merged with an environment's own `access:` (its keys win).

    access:
      roles:                       # the four functional roles; each may be renamed and granted on
        reader: {granted_to: [BI_TOOL]}
        pii_reader: {name: PRIVACY_OFFICER}
      future_grants: true          # objects created later get the same grants
      audit_every_minutes: 5       # stream + task writing history rows for direct UPDATEs; null: none
      purge_schedule: USING CRON 0 3 * * * UTC   # the retention task; null: none
      task_warehouse: TRANSFORM_WH # default: serverless tasks

Role names default to <PROJECT>_<ENV>_<KIND> (INCIDENTS_PROD_READER). Without `access:` nothing of
it is declared: no roles, grants, policies or tasks.
"""

from __future__ import annotations

import re
from typing import Any

from incidents.project.models import ROLE_KINDS, Access, AccessRole, Environment
from incidents.project.reader import Node
from incidents.sql import identifiers

_KEYS = ("roles", "future_grants", "audit_every_minutes", "purge_schedule", "task_warehouse")
# Snowflake's system-defined roles (https://docs.snowflake.com/en/user-guide/security-access-control-overview
# #system-defined-roles): never a functional role of ours. PUBLIC is held by every user, so nothing of ours
# is granted to it either: a pii_reader granted to PUBLIC would show PII in clear to everyone.
SYSTEM_ROLES = ("ORGADMIN", "GLOBALORGADMIN", "ACCOUNTADMIN", "SECURITYADMIN", "USERADMIN", "SYSADMIN", "PUBLIC")
# https://docs.snowflake.com/en/sql-reference/sql/create-task : SCHEDULE = '<num> MINUTE' or
# 'USING CRON <expr> <time_zone>' (five cron fields).
_CRON = re.compile(r"USING CRON (\S+ ){5}[A-Za-z_]+(/[A-Za-z_]+)*")
_MINUTES = re.compile(r"\d{1,5} MINUTES?")


def load_access(project: Node, env_node: Node, project_name: str, env: Environment) -> Access | None:
    """The merged `access:` of the project and the environment, or None when neither declares one."""
    if "access" not in project.data and "access" not in env_node.data:
        return None
    merged: dict[str, Any] = {}
    roles: dict[str, dict[str, Any]] = {}
    for parent in (project, env_node):
        if "access" not in parent.data:
            continue
        values, role_values = _read(parent.child("access", parent.get("access", dict, {})))
        merged.update(values)
        for kind, fields in role_values.items():
            roles.setdefault(kind, {}).update(fields)
    prefix = re.sub(r"[^A-Z0-9_]", "_", f"{project_name}_{env.name}".upper())
    return Access(
        roles=tuple(_role(kind, roles.get(kind, {}), prefix, env) for kind in ROLE_KINDS),
        future_grants=merged.get("future_grants", True),
        audit_minutes=merged.get("audit_every_minutes", 5),
        purge_schedule=merged.get("purge_schedule", "USING CRON 0 3 * * * UTC"),
        task_warehouse=merged.get("task_warehouse", env.warehouse),
    )


def _read(node: Node) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """One `access:` mapping, checked: (settings it sets, role kind -> role fields it sets)."""
    node.only(*_KEYS)
    values: dict[str, Any] = {}
    if "future_grants" in node.data:
        values["future_grants"] = node.get("future_grants", bool)
    if "audit_every_minutes" in node.data:
        minutes = node.get("audit_every_minutes", int)
        if minutes is not None and not 1 <= minutes <= 11520:
            raise node.error("audit_every_minutes", "expected 1-11520 minutes (Snowflake's task limit), or null")
        values["audit_every_minutes"] = minutes
    if "purge_schedule" in node.data:
        values["purge_schedule"] = _schedule(node)
    if "task_warehouse" in node.data:
        values["task_warehouse"] = node.ident("task_warehouse", required=False)
    roles_node = node.child("roles", node.get("roles", dict, {}))
    roles_node.only(*ROLE_KINDS)
    roles: dict[str, dict[str, Any]] = {}
    for kind, value in roles_node.data.items():
        role = roles_node.child(str(kind), value if value is not None else {})
        role.only("name", "granted_to")
        fields: dict[str, Any] = {}
        if "name" in role.data:
            fields["name"] = role.ident("name")
            if fields["name"].upper() in SYSTEM_ROLES:
                default = f"<PROJECT>_<ENV>_{str(kind).upper()}"
                raise role.error("name", f"{fields['name']} is one of Snowflake's system roles; name the {kind} role "
                                         f"after your project (the default is {default})")
        if "granted_to" in role.data:
            fields["granted_to"] = role.idents("granted_to")
            if any(to.upper() == "PUBLIC" for to in fields["granted_to"]):
                raise role.error("granted_to", "PUBLIC is held by every user: granting the role to it grants it to "
                                               "everyone; name the roles that should hold it")
        roles[str(kind)] = fields
    return values, roles


def _schedule(node: Node) -> str | None:
    value = node.get("purge_schedule", str)
    if value is None:
        return None
    text = " ".join(value.split())
    if not (_CRON.fullmatch(text) or _MINUTES.fullmatch(text.upper())):
        raise node.error("purge_schedule", f"expected 'USING CRON <5 fields> <time zone>' or '<n> MINUTE', "
                                           f"got {value!r}")
    return text


def _role(kind: str, fields: dict[str, Any], prefix: str, env: Environment) -> AccessRole:
    name = fields.get("name") or identifiers.check(f"{prefix}_{kind.upper()}")
    granted_to = fields.get("granted_to")
    if granted_to is None:
        # The deploy role reads PII in clear by default: `incidents check` compares e-mail addresses.
        granted_to = (env.role,) if kind == "pii_reader" and env.role else ()
    return AccessRole(kind, name, tuple(granted_to))
