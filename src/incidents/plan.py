"""Changes -> ordered steps of statements. Pure: renders templates, runs nothing.

Order: database and schema, the history table, new tables (parents first), in-place column changes,
reference rows, views (dependencies first), then destructive drops last. A destructive change is
planned but refused unless the user passed --allow-destructive.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from incidents import identifiers
from incidents.diff import REBUILD_SUFFIX, Change
from incidents.introspect import LiveState
from incidents.models import Column, Project, Table
from incidents.render import HISTORY_TABLE, DesiredState, context
from incidents.templating import render_template


def live_ident(name: str) -> str:
    """An identifier exactly as the backend reported it (a stray object may be lower case, reserved
    or contain any character): bare when that means the same name, else double-quoted."""
    if re.fullmatch(r"[A-Z_][A-Z0-9_]{0,254}", name) and name not in identifiers.SNOWFLAKE_RESERVED:
        return identifiers.quote(name)
    return '"' + name.replace('"', '""') + '"'


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
    env = desired.env
    ctx = context(project, env, live_ident=live_ident,
                  fq_live=lambda name: f"{identifiers.qualify(env.database, env.schema)}.{live_ident(name)}")

    def sql(template: str, **extra: Any) -> str:
        return render_template(project.templates_dir, f"{template}.sql.j2", **ctx, **extra).strip()

    by_kind: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        by_kind[change.kind].append(change)
    steps: list[Step] = []

    def refuse(change: Change) -> str | None:
        if change.kind == "missing_column" and change.destructive:
            return change.detail  # impossible on either backend: --allow-destructive would not help
        if change.destructive and not allow_destructive:
            return f"{change.detail}; rerun with --allow-destructive to apply it"
        return None

    # A stray object of the other kind holding the name of a missing table or view: CREATE TABLE IF NOT
    # EXISTS would silently do nothing (fakesnow) and CREATE OR REPLACE VIEW fails, so drop it first.
    in_the_way: dict[str, Step] = {}
    for change in by_kind["unexpected_view"] + by_kind["unexpected_table"]:
        reason = refuse(change)
        in_the_way[change.object.upper()] = Step(
            change.object_kind, change.object, "drop",
            () if reason else (sql(f"deploy/drop_{change.object_kind}", name=change.object),),
            destructive=True, refused=reason, changes=(change,))

    def make_room(name: str, kind: str) -> tuple[list[Step], str | None]:
        """Steps that clear the name for a new object, and why the create is refused if they are."""
        blocker = in_the_way.get(name.upper())
        if blocker is None or blocker.object_kind == kind:
            return [], None
        del in_the_way[name.upper()]
        why = (f"a {blocker.object_kind} named {blocker.object} is in the way; rerun with --allow-destructive "
               "to drop it") if blocker.refused else None
        return [blocker], why

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
            room, blocked = make_room(table.name, "table")
            steps += room
            steps.append(Step("table", table.name, "create", () if blocked else (rendered.sql.strip(),),
                              checksum=rendered.checksum, refused=blocked))

    # In-place changes, one step per table so its checksum is recorded only when all of them ran.
    per_table: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        if change.object_kind == "column" or change.kind in ("table_comment_changed",) or (
                change.kind == "config_changed" and change.object_kind == "table"):
            per_table[change.object].append(change)
    tables = {t.name: (t, r) for t, r in desired.tables}
    drops: list[Step] = []
    record_after_drops: list[Step] = []
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
                                  destructive=change.destructive, changes=(change,)))
                continue
            statements += _column_statements(sql, table, change)
        steps += destructive_refusals
        in_place = tuple(c for c in table_changes if c.kind != "unexpected_column")
        if statements:
            # The table's checksum is recorded only when every change to it is applied.
            steps.append(Step("table", name, "alter", tuple(statements),
                              destructive=any(c.destructive for c in in_place),
                              checksum=None if destructive_refusals else rendered.checksum, changes=in_place))
        elif not destructive_refusals and len(in_place) < len(table_changes):
            # Only column drops: record the new checksum after them, or the next diff would call the
            # (already applied) removal of a column from the config "config_changed".
            record_after_drops.append(Step("table", name, "record", (), checksum=rendered.checksum,
                                           changes=tuple(table_changes)))

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
            room, blocked = make_room(view.name, "view")
            steps += room
            steps.append(Step("view", view.name, "create" if change.kind == "missing_view" else "replace",
                              () if blocked else (rendered.sql.strip(),), checksum=rendered.checksum,
                              refused=blocked, changes=(change,)))

    # Stray views before stray tables: a view may select from the table.
    drops += [s for s in in_the_way.values() if s.object_kind == "view"]
    drops += [s for s in in_the_way.values() if s.object_kind == "table"]
    return steps + drops + record_after_drops


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
    Snowflake cannot change type family, scale or default in place. Starts by dropping the scratch
    column a previous, failed rebuild may have left, so a rerun converges."""
    temp = column.name + REBUILD_SUFFIX
    statements = [
        sql("deploy/drop_column", table=table, column=temp.upper()),
        sql("deploy/add_rebuild_column", table=table, column=column, target=temp),
        sql("deploy/copy_column", table=table, column=column, source=column.name, target=temp),
        sql("deploy/drop_column", table=table, column=column.name.upper()),
        sql("deploy/rename_column", table=table, old=temp, new=column.name),
    ]
    if not column.nullable:
        statements.append(sql("deploy/set_not_null", table=table, column=column))
    if column.comment:
        statements.append(sql("deploy/column_comment", table=table, column=column))
    return statements
