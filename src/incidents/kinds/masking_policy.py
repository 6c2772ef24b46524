"""Masking policies (Enterprise Edition and higher): one per kind of PII (email, name, text), showing
the value in clear when IS_ROLE_IN_SESSION('<pii_reader role>') and a masked form otherwise. Created
IF NOT EXISTS (a policy set on columns cannot be replaced) and its body set by ALTER ... SET BODY.
Where they are set on columns: kinds.column_policy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from incidents.kinds.access_object import (
    ACCESS_FILE,
    ACCESS_SKIPPED,
    QNAME,
    STRING,
    check_forms,
    form,
    object_changes,
    object_steps,
)
from incidents.kinds.base import Change, Desired, DiffContext, Forms, Kind, ObjectKind, PlanContext, Step, statement
from incidents.project.deployment import Deployment
from incidents.sql.parse import parse_statements

MASKING_POLICY = ObjectKind("masking_policy")  # also "<table>.pii": the policies and tags set on a table's columns


def policy_name(pii_kind: str) -> str:
    return f"pii_{pii_kind}_mask"


class MaskingPolicies(Kind):
    name = "masking_policy"
    object_kinds = (MASKING_POLICY,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    forms: ClassVar[Forms] = {
        # https://docs.snowflake.com/en/sql-reference/sql/create-masking-policy
        "create_masking_policy": form(rf"CREATE MASKING POLICY IF NOT EXISTS (?P<policy>{QNAME}) AS \(VAL VARCHAR\) "
                                      rf"RETURNS VARCHAR -> (?P<body>.+?)(?: COMMENT = {STRING})?"),
        # https://docs.snowflake.com/en/sql-reference/sql/alter-masking-policy
        "alter_masking_policy": form(rf"ALTER MASKING POLICY (?P<policy>{QNAME}) SET BODY -> (?P<body>.+)"),
    }

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        access = dep.env.access
        if access is None or not dep.env.masks_with_policies:
            return []
        pii_role = access.role("pii_reader").name.upper()
        kinds = sorted({c.pii for t in dep.project.pii_tables for c in t.columns if c.pii})
        return [Desired(MASKING_POLICY, policy_name(kind), tuple(
            statement(dep, f"access/{template}", f"masking policy {policy_name(kind)}", policy=policy_name(kind),
                      kind=kind, pii_role=pii_role) for template in ("masking_policy", "masking_policy_body")),
            file=ACCESS_FILE) for kind in kinds]

    def changes(self, dc: DiffContext) -> list[Change]:
        return object_changes(dc, dc.desired.objects.get(self.name, ()))

    def steps(self, pc: PlanContext) -> list[Step]:
        return object_steps(pc, pc.desired.objects.get(self.name, ()))

    def check_statement(self, statement: str, source: str) -> bool:
        if not check_forms(self.forms, ("CREATE MASKING", "ALTER MASKING"), statement, source):
            return False
        from incidents.kinds.access_object import match

        found = match(self.forms, statement)
        assert found is not None
        parse_statements(f"SELECT {found[1].group('body')} FROM (SELECT 'x' AS val) AS t", source)
        return True
