"""Reference rows (`reference_data:` of a table): rows deploy keeps present, matched on their key,
with one MERGE that inserts the missing keys and leaves rows users edited or added alone.

Not read back row by row: the checksum the last deploy recorded tells the declared rows changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from incidents.kinds.base import (
    CONFIG_CHANGED,
    MERGE,
    Change,
    Desired,
    DiffContext,
    Kind,
    ObjectKind,
    Phase,
    PlanContext,
    Step,
    rendered,
)
from incidents.kinds.containers import SCHEMA_FILE
from incidents.kinds.namespace import MISSING_TABLE
from incidents.project.deployment import Deployment
from incidents.project.models import Table

REFERENCE_DATA = ObjectKind("reference_data")


class ReferenceRows(Kind):
    name = "reference_rows"
    object_kinds = (REFERENCE_DATA,)
    change_kinds = (CONFIG_CHANGED,)

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        return [_merge(dep, t) for t in dep.project.tables if t.reference_data]

    def changes(self, dc: DiffContext) -> list[Change]:
        if not dc.live.schema_exists:
            return []
        changes = []
        for obj in dc.desired.of(REFERENCE_DATA):
            recorded = dc.live.recorded(REFERENCE_DATA, obj.name)
            if obj.name.upper() in dc.live.tables and recorded and recorded.checksum != obj.checksum:
                changes.append(Change(CONFIG_CHANGED, REFERENCE_DATA, obj.name,
                                      detail="reference rows changed since the last deploy; deploy adds missing keys"))
        return changes

    def steps(self, pc: PlanContext) -> list[Step]:
        """After the table is created, when the declared rows changed, or when they were never merged."""
        missing_tables = pc.names(MISSING_TABLE)
        changed = {c.object for c in pc.of_kind(CONFIG_CHANGED) if c.object_kind == REFERENCE_DATA}
        live = pc.live
        return [Step(REFERENCE_DATA, r.name, MERGE, r.statements, checksum=r.checksum, phase=Phase.DATA, parallel=True,
                     after=r.model.parents)
                for r in pc.desired.of(REFERENCE_DATA)
                if r.name in missing_tables or r.name in changed
                or (live.recorded(REFERENCE_DATA, r.name) is None and r.name.upper() in live.tables)]


def _merge(dep: Deployment, table: Table) -> Desired:
    assert table.reference_data is not None
    names = list(dict.fromkeys(col for row in table.reference_data.rows for col, _ in row))
    columns = [table.column(name) for name in names]
    rows = [[dict(row).get(name) for name in names] for row in table.reference_data.rows]
    return rendered(dep, REFERENCE_DATA, table.name, "schema/reference_data.sql.j2", source=table.source,
                    file=SCHEMA_FILE, model=table, table=table, columns=columns, rows=rows,
                    key=table.reference_data.key)
