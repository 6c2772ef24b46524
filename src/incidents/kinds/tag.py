"""The classification tag (Enterprise Edition): `CLASSIFICATION = 'pii'` on every PII column (set by
kinds.column_policy, with the column's masking policy, as the `<table>.pii` object).

Live: where the tag is set, in one query (TAG_REFERENCES_ALL_COLUMNS per table that holds PII, joined by
UNION ALL). A tag unset by hand on a deployed column is drift of that table's `<table>.pii` object, and
deploy sets its policies and tag again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from incidents.kinds.access_object import (
    ACCESS_FILE,
    ACCESS_SKIPPED,
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
    ObjectKind,
    PlanContext,
    Step,
    statement,
)
from incidents.kinds.masking_policy import MASKING_POLICY
from incidents.project.deployment import Deployment
from incidents.sql.session import Session

TAG = ObjectKind("tag")
TAG_NAME = "classification"
TAG_VALUE = "pii"  # what templates/access/set_tag.sql.j2 sets
UNSET_TAG = ChangeKind("unset_tag")


class Tags(Kind):
    name = "tag"
    object_kinds = (TAG,)
    needs_access_control = True
    skipped_notice = ACCESS_SKIPPED
    change_kinds = (UNSET_TAG,)
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

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        """The value of our tag on every column of the deployed tables that hold PII, in one query."""
        if not compared(dep, live) or not live.schema_exists or not self.desired(dep):
            return
        tables = [t.name for t in dep.project.pii_tables
                  if t.name.upper() in live.tables and live.recorded(MASKING_POLICY, f"{t.name}.pii") is not None]
        if not tables:
            return
        rows = session.query(dep.sql("introspect/tag_references", tables=tables, database=dep.database),
                             obj="tags")
        ours = (dep.database.upper(), dep.schema.upper(), TAG_NAME.upper())
        live.extra[self.name] = {(str(r["OBJECT_NAME"]).upper(), str(r["COLUMN_NAME"]).upper()): str(r["TAG_VALUE"])
                                 for r in rows
                                 if (str(r["TAG_DATABASE"]).upper(), str(r["TAG_SCHEMA"]).upper(),
                                     str(r["TAG_NAME"]).upper()) == ours}

    def changes(self, dc: DiffContext) -> list[Change]:
        return object_changes(dc, dc.desired.objects.get(self.name, ())) + _unset(dc)

    def steps(self, pc: PlanContext) -> list[Step]:
        # An unset tag is set again by its table's `<table>.pii` step (kinds.column_policy).
        return object_steps(pc, pc.desired.objects.get(self.name, ()))

    def check_statement(self, statement: str, source: str) -> bool:
        return check_forms(self.forms, ("CREATE TAG",), statement, source)


def _unset(dc: DiffContext) -> list[Change]:
    """A PII column of a deployed, unchanged `<table>.pii` object without our tag (a missing or changed
    object is reported, and set again whole, by kinds.column_policy)."""
    tagged: dict[tuple[str, str], str] | None = dc.live.extra.get(Tags.name)
    if tagged is None:
        return []
    changes = []
    for obj in dc.desired.of(MASKING_POLICY):
        table = dc.dep.project.table(obj.on_table or "")
        entry = dc.live.recorded(MASKING_POLICY, obj.name)
        if table is None or entry is None or entry.checksum != obj.checksum or table.name.upper() not in dc.live.tables:
            continue
        for column in (c for c in table.columns if c.pii):
            value = tagged.get((table.name.upper(), column.name.upper()))
            if value != TAG_VALUE:
                changes.append(Change(UNSET_TAG, MASKING_POLICY, obj.name, column=column.name,
                                      declared=f"{TAG_NAME.upper()} = '{TAG_VALUE}'", live=value,
                                      detail=f"tag {TAG_NAME.upper()} is not set on {table.name}.{column.name}; "
                                             "deploy sets it (and the masking policy) again"))
    return changes
