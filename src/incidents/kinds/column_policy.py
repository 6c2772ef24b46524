"""Where the masking policies and the tag sit: on each table's PII columns, one object per table
(`<table>.pii`, recorded as a masking_policy), set again whenever the table is new, a policy was unset
(read here) or the tag was unset (read by kinds.tag)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from incidents.kinds.access_object import (
    ACCESS_FILE,
    ACCESS_SKIPPED,
    NAME,
    QNAME,
    STRING,
    check_forms,
    compared,
    form,
    object_changes,
    object_steps,
)
from incidents.kinds.base import (
    Change,
    ChangeKind,
    Desired,
    DiffContext,
    Forms,
    Kind,
    LiveState,
    PlanContext,
    Step,
    statement,
)
from incidents.kinds.masking_policy import MASKING_POLICY, policy_name
from incidents.kinds.tag import TAG_NAME, UNSET_TAG
from incidents.project.deployment import Deployment
from incidents.project.models import Table
from incidents.sql.session import Session

UNSET_MASKING_POLICY = ChangeKind("unset_masking_policy")


class ColumnPolicies(Kind):
    name = "column_policy"
    object_kinds = (MASKING_POLICY,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    change_kinds = (UNSET_MASKING_POLICY,)
    forms: ClassVar[Forms] = {
        # https://docs.snowflake.com/en/sql-reference/sql/alter-table-column (SET MASKING POLICY ... FORCE, SET TAG)
        "set_masking_policy": form(rf"ALTER TABLE (?P<table>{QNAME}) MODIFY COLUMN (?P<column>{NAME}) SET MASKING "
                                   rf"POLICY (?P<policy>{QNAME})(?: FORCE)?"),
        "set_tag": form(rf"ALTER TABLE (?P<table>{QNAME}) MODIFY COLUMN (?P<column>{NAME}) SET TAG (?P<tag>{QNAME}) = "
                        rf"(?P<value>{STRING})"),
    }

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        if dep.env.access is None or not dep.env.masks_with_policies:
            return []
        return [Desired(MASKING_POLICY, f"{t.name}.pii", _attachments(dep, t), on_table=t.name, file=ACCESS_FILE)
                for t in dep.project.pii_tables]

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        """Where each deployed policy is set, in one query (a policy unset by hand is drift)."""
        if not compared(dep, live) or not live.schema_exists or not self.desired(dep):
            return
        policies = sorted({policy_name(str(c.pii)) for t in dep.project.pii_tables for c in t.columns if c.pii})
        policies = [p for p in policies if live.recorded(MASKING_POLICY, p) is not None]
        if not policies:
            return
        rows = session.query(dep.sql("introspect/policy_references", policies=policies, database=dep.database),
                             obj="masking policies")
        live.extra[self.name] = {(str(r["REF_ENTITY_NAME"]).upper(), str(r["REF_COLUMN_NAME"]).upper()):
                                 str(r["POLICY_NAME"]).upper() for r in rows}

    def changes(self, dc: DiffContext) -> list[Change]:
        changes = object_changes(dc, dc.desired.objects.get(self.name, ()))
        live: dict[tuple[str, str], str] | None = dc.live.extra.get(self.name)
        if live is None:
            return changes
        named = {c.object for c in changes}
        for obj in dc.desired.objects.get(self.name, ()):
            table = dc.dep.project.table(obj.on_table or "")
            if (table is None or obj.name in named or table.name.upper() not in dc.live.tables
                    or dc.live.recorded(MASKING_POLICY, obj.name) is None):
                continue  # a missing table's own change says it; deploy sets its policies after creating it
            for column in (c for c in table.columns if c.pii):
                policy = policy_name(str(column.pii)).upper()
                if live.get((table.name.upper(), column.name.upper())) != policy:
                    changes.append(Change(UNSET_MASKING_POLICY, MASKING_POLICY, obj.name, column=column.name,
                                          declared=policy, detail=f"masking policy {policy} is not set on "
                                          f"{table.name}.{column.name}; deploy sets it (and the tag) again"))
        return changes

    def steps(self, pc: PlanContext) -> list[Step]:
        # An unset tag (kinds.tag) is repaired here too: this object's statements set the policy and the tag.
        return object_steps(pc, pc.desired.objects.get(self.name, ()), also=(UNSET_MASKING_POLICY, UNSET_TAG))

    def check_statement(self, statement: str, source: str) -> bool:
        import re

        from incidents.kinds.access_object import normal

        if not re.match(r"ALTER TABLE \S+ MODIFY COLUMN \S+ SET (MASKING POLICY|TAG) ", normal(statement).upper()):
            return False
        return check_forms(self.forms, ("ALTER TABLE",), statement, source)


def _attachments(dep: Deployment, table: Table) -> tuple[str, ...]:
    statements: list[str] = []
    for column in (c for c in table.columns if c.pii):
        what = f"masking of {table.name}.{column.name}"
        statements += [statement(dep, "access/set_masking_policy", what, table=table, column=column,
                                 policy=policy_name(str(column.pii))),
                       statement(dep, "access/set_tag", what, table=table, column=column, tag=TAG_NAME)]
    return tuple(statements)
