"""The four functional roles of an environment (reader, analyst, writer, pii_reader): created when
missing, never dropped. Whether a role exists is read with its grants (kinds.grant)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from incidents.kinds.access_object import (
    ACCESS_FILE,
    ACCESS_FILES,
    ACCESS_SKIPPED,
    NAME,
    STRING,
    check_forms,
    compared,
    form,
)
from incidents.kinds.base import (
    CREATE,
    Change,
    ChangeKind,
    Desired,
    DiffContext,
    Forms,
    Kind,
    ObjectKind,
    Phase,
    PlanContext,
    Step,
    statement,
)
from incidents.kinds.grant import live_access
from incidents.project.deployment import Deployment

ROLE = ObjectKind("role")
MISSING_ROLE = ChangeKind("missing_role")


class Roles(Kind):
    name = "role"
    object_kinds = (ROLE,)
    change_kinds = (MISSING_ROLE,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    committed_files = ACCESS_FILES
    forms: ClassVar[Forms] = {
        # https://docs.snowflake.com/en/sql-reference/sql/create-role
        "create_role": form(rf"CREATE ROLE IF NOT EXISTS (?P<role>{NAME})(?: COMMENT = {STRING})?"),
    }

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        access = dep.env.access
        if access is None:
            return []
        return [Desired(ROLE, role.name.upper(), (statement(dep, "access/role", f"role {role.name}", role=role),),
                        model=role, file=ACCESS_FILE) for role in access.roles]

    def changes(self, dc: DiffContext) -> list[Change]:
        if not compared(dc.dep, dc.live):
            return []
        exist = live_access(dc.live).roles
        return [Change(MISSING_ROLE, ROLE, role.name, declared=role.model.kind, detail="role does not exist")
                for role in dc.desired.of(ROLE) if role.name not in exist]

    def steps(self, pc: PlanContext) -> list[Step]:
        missing = pc.names(MISSING_ROLE)
        return [Step(ROLE, role.name, CREATE, role.statements, phase=Phase.ROLE)
                for role in pc.desired.of(ROLE) if role.name in missing]

    def check_statement(self, statement: str, source: str) -> bool:
        return check_forms(self.forms, ("CREATE ROLE",), statement, source)
