"""`incidents doctor`: does the deploy role hold the account privileges deploy needs for access, masking and
tasks? Read with SHOW GRANTS (the role and, through the roles granted to it, what it inherits); each
missing privilege is named with the GRANT that gives it. Snowflake only: the local target has no roles.

What deploy needs (https://docs.snowflake.com/en/user-guide/security-access-control-privileges , global
privileges):
- CREATE ROLE: the functional roles (CREATE ROLE IF NOT EXISTS);
- MANAGE GRANTS: future grants (`future_grants: true`). Granting on an object needs only its ownership, and
  deploy owns what it creates, so without future grants MANAGE GRANTS is not needed
  (https://docs.snowflake.com/en/sql-reference/sql/grant-privilege , access control requirements: future
  grants need MANAGE GRANTS, outside a managed access schema whose owner may define them);
- APPLY MASKING POLICY and APPLY TAG: setting the masking policies and the pii tag on columns (Enterprise);
- EXECUTE TASK: resuming the audit, retention and intake tasks;
- EXECUTE MANAGED TASK: serverless tasks, when no `task_warehouse` is declared.
System roles hold some of these without a visible grant (ACCOUNTADMIN all of them, SECURITYADMIN MANAGE
GRANTS, USERADMIN CREATE ROLE), so a role that is or inherits one of them counts as holding those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from incidents.output import JsonResult
from incidents.project.deployment import Deployment
from incidents.sql.session import Session

MAX_ROLES = 50  # roles read through the hierarchy, at most (one SHOW GRANTS each)
_SYSTEM = {"ACCOUNTADMIN": {"*"}, "SECURITYADMIN": {"MANAGE GRANTS", "CREATE ROLE"}, "USERADMIN": {"CREATE ROLE"}}


@dataclass(frozen=True)
class DoctorResult(JsonResult):
    env: str
    checked: bool  # False on the local target: nothing to check
    role: str | None
    needed: tuple[tuple[str, str], ...]  # (privilege, why)
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing

    def grants(self) -> list[str]:
        return [f"GRANT {p} ON ACCOUNT TO ROLE {self.role}" for p in self.missing]

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "checked": self.checked, "ok": self.ok, "role": self.role,
                "needed": [{"privilege": p, "why": w} for p, w in self.needed], "missing": list(self.missing),
                "grants": self.grants()}


def needed_privileges(dep: Deployment) -> list[tuple[str, str]]:
    """(privilege, why) deploy needs on the account for what the environment declares."""
    access = dep.env.access
    if access is None:
        return []
    needed = [("CREATE ROLE", "the functional roles")]
    if access.future_grants:
        needed.append(("MANAGE GRANTS", "future grants on the schema's tables and views (future_grants: true)"))
    needed.append(("EXECUTE TASK", "resuming the audit, retention and intake tasks"))
    if dep.env.masks_with_policies:
        needed += [("APPLY MASKING POLICY", "masking policies on PII columns"), ("APPLY TAG", "the pii tag")]
    if access.task_warehouse is None:
        needed.append(("EXECUTE MANAGED TASK", "serverless tasks (no task_warehouse declared)"))
    return needed


def run_doctor(session: Session, dep: Deployment) -> DoctorResult:
    needed = needed_privileges(dep)
    if not session.access_control:
        return DoctorResult(dep.env.name, False, None, tuple(needed), ())
    role = dep.env.role or str(session.query(dep.sql("doctor/current_role"), obj="session")[0]["ROLE_NAME"])
    held = held_privileges(session, dep, role.upper())
    missing = tuple(p for p, _ in needed if p not in held and "*" not in held)
    return DoctorResult(dep.env.name, True, role.upper(), tuple(needed), missing)


def held_privileges(session: Session, dep: Deployment, role: str) -> set[str]:
    """The account privileges `role` holds, itself or through the roles granted to it."""
    held: set[str] = set()
    seen: set[str] = set()
    todo = [role]
    while todo and len(seen) < MAX_ROLES:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        held |= _SYSTEM.get(current, set())
        for row in session.query(dep.sql("doctor/grants_to_role", role=current), obj=f"role {current}"):
            granted_on, privilege = str(row.get("GRANTED_ON", "")).upper(), str(row.get("PRIVILEGE", "")).upper()
            name = str(row.get("NAME", ""))
            if granted_on == "ACCOUNT":
                held.add(privilege)
            elif granted_on == "ROLE" and privilege == "USAGE":
                todo.append(name.upper())
    return held
