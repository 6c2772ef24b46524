"""The classification tag (Enterprise Edition): `CLASSIFICATION = 'pii'` on every PII column (set by
kinds.column_policy)."""

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

TAG = ObjectKind("tag")
TAG_NAME = "classification"


class Tags(Kind):
    name = "tag"
    object_kinds = (TAG,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    forms: ClassVar[Forms] = {
        # https://docs.snowflake.com/en/sql-reference/sql/create-tag
        "create_tag": form(rf"CREATE TAG IF NOT EXISTS (?P<tag>{QNAME}) ALLOWED_VALUES {STRING}(?:, {STRING})*"
                           rf"(?: COMMENT = {STRING})?"),
    }

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        if dep.env.access is None or not dep.env.masks_with_policies:
            return []
        return [Desired(TAG, TAG_NAME, (statement(dep, "access/tag", f"tag {TAG_NAME}", tag=TAG_NAME),),
                        file=ACCESS_FILE)]

    def changes(self, dc: DiffContext) -> list[Change]:
        return object_changes(dc, dc.desired.objects.get(self.name, ()))

    def steps(self, pc: PlanContext) -> list[Step]:
        return object_steps(pc, pc.desired.objects.get(self.name, ()))

    def check_statement(self, statement: str, source: str) -> bool:
        return check_forms(self.forms, ("CREATE TAG",), statement, source)
