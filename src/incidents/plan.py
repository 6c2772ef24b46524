"""Changes -> ordered steps of statements. Pure: renders templates, runs nothing.

Order: database and schema, the history table, new tables (parents first), in-place column changes,
reference rows, views (dependencies first), then destructive drops last. A destructive change is
planned but refused unless the user passed --allow-destructive.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from incidents.diff import Change
from incidents.introspect import LiveState
from incidents.models import Column, Project, Table
from incidents.render import HISTORY_TABLE, DesiredState, Rendered, context
from incidents.templating import render_template

REBUILD_SUFFIX = "__incidents_rebuild"


@dataclass(frozen=True)
class Step:
    object_kind: str
    object: str
    action: str  # create | alter | replace | merge | drop | record
    statements: tuple[str, ...]
    destructive: bool = False
    refused: str | None = None
    checksum: str | None = None
    changes: tuple[Change, ...] = field(default=(), compare=False)

    @property
    def runs(self) -> bool:
        return self.refused is None


def plan(project: Project, desired: DesiredState, live: LiveState, changes: list[Change],
         *, allow_destructive: bool = False) -> list[Step]:
    ctx = context(project, desired.env)

    def sql(template: str, **extra: Any) -> str:
        return render_template(project.templates_dir, f"{template}.sql.j2", **ctx, **extra).strip()

    by_kind: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        by_kind[change.kind].append(change)
    steps: list[Step] = []

    def refuse(change: Change) -> str | None:
        if change.destructive and not allow_destructive:
            return f"{change.detail}; rerun with --allow-destructive to apply it"
        return None

    if by_kind["missing_database"]:
        steps.append(Step("database", desired.env.database, "create", (desired.database.sql.strip(),),
                          checksum=desired.database.checksum))
    if by_kind["missing_schema"]:
        steps.append(Step("schema", desired.env.schema, "create", (desired.schema.sql.strip(),),
                          checksum=desired.schema.checksum))
    missing_tables = {c.object for c in by_kind["missing_table"]}
    if HISTORY_TABLE in missing_tables:
        steps.append(Step("table", HISTORY_TABLE, "create", (desired.history_table.sql.strip(),),
                          checksum=desired.history_table.checksum))
    for table, rendered in desired.tables:
        if table.name in missing_tables:
            steps.append(Step("table", table.name, "create", (rendered.sql.strip(),), checksum=rendered.checksum))

    # In-place changes, one step per table so its checksum is recorded only when all of them ran.
    per_table: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        if change.object_kind == "column" or change.kind in ("table_comment_changed",) or (
                change.kind == "config_changed" and change.object_kind == "table"):
            per_table[change.object].append(change)
    tables = {t.name: (t, r) for t, r in desired.tables}
    drops: list[Step] = []
    for name, table_changes in per_table.items():
        table, rendered = tables[name]
        statements: list[str] = []
        destructive_refusals = []
        for change in sorted(table_changes, key=lambda c: _ORDER.get(c.kind, 99)):
            reason = refuse(change)
            if reason:
                destructive_refusals.append(Step("column", f"{name}.{change.column}", change.kind, (),
                                                 destructive=True, refused=reason, changes=(change,)))
                continue
            if change.kind == "unexpected_column":
                drops.append(Step("column", f"{name}.{change.column}", "drop",
                                  (sql("deploy/drop_column", table=table, column=change.column),),
                                  destructive=True, changes=(change,)))
                continue
            statements += _column_statements(sql, table, change)
        steps += destructive_refusals
        if statements:
            # The table's checksum is recorded only when every change to it is applied.
            in_place = tuple(c for c in table_changes if c.kind != "unexpected_column")
            steps.append(Step("table", name, "alter", tuple(statements),
                              destructive=any(c.destructive for c in in_place),
                              checksum=None if destructive_refusals else rendered.checksum, changes=in_place))

    # Reference rows: after the table is created, or when the declared rows changed.
    changed_reference = {c.object for c in changes if c.kind == "config_changed" and c.object_kind == "reference_data"}
    for rendered in desired.reference_data:
        if rendered.name in missing_tables or rendered.name in changed_reference or (
                ("reference_data", rendered.name.upper()) not in live.history and rendered.name.upper() in live.tables):
            steps.append(Step("reference_data", rendered.name, "merge", (rendered.sql.strip(),),
                              checksum=rendered.checksum))

    view_changes = {c.object: c for c in changes if c.kind in ("missing_view", "changed_view")}
    for view, rendered in desired.views:
        change = view_changes.get(view.name)
        if change is not None:
            steps.append(Step("view", view.name, "create" if change.kind == "missing_view" else "replace",
                              (rendered.sql.strip(),), checksum=rendered.checksum, changes=(change,)))

    for change in by_kind["unexpected_view"]:
        reason = refuse(change)
        drops.append(Step("view", change.object, "drop", () if reason else (sql("deploy/drop_view", name=change.object),),
                          destructive=True, refused=reason, changes=(change,)))
    for change in by_kind["unexpected_table"]:
        reason = refuse(change)
        drops.append(Step("table", change.object, "drop",
                          () if reason else (sql("deploy/drop_table", name=change.object),),
                          destructive=True, refused=reason, changes=(change,)))
    return steps + drops


_ORDER = {"renamed_column": 0, "missing_column": 1, "type_changed": 2, "default_changed": 3,
          "nullability_changed": 4, "comment_changed": 5, "table_comment_changed": 6, "config_changed": 7,
          "unexpected_column": 8}


def _column_statements(sql: Any, table: Table, change: Change) -> list[str]:
    column = table.column(change.column) if change.column else None
    kind = change.kind
    if kind == "renamed_column":
        return [sql("deploy/rename_column", table=table, old=change.live, new=change.declared)]
    if kind == "config_changed" or kind == "table_comment_changed":
        return [sql("deploy/table_comment", table=table)]
    assert column is not None
    if kind == "missing_column":
        return [sql("deploy/add_column", table=table, column=column)]
    if kind == "comment_changed":
        return [sql("deploy/column_comment", table=table, column=column)]
    if kind == "nullability_changed":
        return [sql("deploy/drop_not_null" if column.nullable else "deploy/set_not_null", table=table, column=column)]
    if kind == "default_changed" and column.default is None:
        return [sql("deploy/drop_default", table=table, column=column)]
    if kind == "type_changed" and not change.destructive:
        return [sql("deploy/set_type", table=table, column=column)]
    return _rebuild(sql, table, column)


def _rebuild(sql: Any, table: Table, column: Column) -> list[str]:
    """Replace a column by a new one of the declared type and default, values cast across.
    Snowflake cannot change type family, scale or default in place."""
    temp = column.name + REBUILD_SUFFIX
    statements = [
        sql("deploy/add_rebuild_column", table=table, column=column, target=temp),
        sql("deploy/copy_column", table=table, column=column, source=column.name, target=temp),
        sql("deploy/drop_column", table=table, column=column.name),
        sql("deploy/rename_column", table=table, old=temp, new=column.name),
    ]
    if not column.nullable:
        statements.append(sql("deploy/set_not_null", table=table, column=column))
    if column.comment:
        statements.append(sql("deploy/column_comment", table=table, column=column))
    return statements


def statements(steps: list[Step]) -> list[str]:
    return [s for step in steps if step.runs for s in step.statements]


__all__ = ["Rendered", "Step", "plan", "statements"]
