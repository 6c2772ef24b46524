"""Standard Edition has no masking policies: each table with PII gets a secure view `<table>_masked`
(its text hidden from non-owners) that shows the table with its PII masked unless the session has
the pii_reader role; `analyst` is granted those instead of the base tables that hold PII."""

from __future__ import annotations

from collections.abc import Sequence

from incidents.kinds.access_object import ACCESS_FILE, ACCESS_SKIPPED, object_changes, object_steps
from incidents.kinds.base import Change, Desired, DiffContext, Kind, ObjectKind, PlanContext, Step, statement
from incidents.project.deployment import Deployment

SECURE_VIEW = ObjectKind("secure_view")  # Standard Edition: a table with its PII masked
MASKED_SUFFIX = "_masked"


def masked_views(dep: Deployment) -> list[str]:
    """The secure views of a Standard Edition account (none on Enterprise, where policies mask)."""
    if dep.env.access is None or dep.env.masks_with_policies:
        return []
    return [f"{t.name}{MASKED_SUFFIX}" for t in dep.project.pii_tables]


class SecureViews(Kind):
    name = "secure_view"
    object_kinds = (SECURE_VIEW,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        access = dep.env.access
        if access is None:
            return []
        pii_role = access.role("pii_reader").name.upper()
        return [Desired(SECURE_VIEW, view, (statement(dep, "access/masked_view", f"secure view {view}", table=table,
                                                      view_name=view, pii_role=pii_role),),
                        on_table=table.name, namespace="view", file=ACCESS_FILE)
                for table, view in zip(dep.project.pii_tables, masked_views(dep), strict=False)]

    def changes(self, dc: DiffContext) -> list[Change]:
        return object_changes(dc, dc.desired.objects.get(self.name, ()))

    def steps(self, pc: PlanContext) -> list[Step]:
        return object_steps(pc, pc.desired.objects.get(self.name, ()))
