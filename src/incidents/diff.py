"""Declared vs live: a pure function from (DesiredState, LiveState) to a list of typed Changes.

Types are canonicalised on both sides (sqltypes); what a backend cannot store (fakesnow forgets
column comments and VARCHAR lengths on reopen, reports LTZ as TZ) is not called drift. Views are
compared through the deploy history: the checksum of the rendered SQL we last applied, and the
fingerprint of the view text the backend reported right after (so a view replaced by hand shows up
on either backend, while the backend's own rewrite of our text does not).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from incidents import sqltypes
from incidents.introspect import LiveColumn, LiveState, LiveTable, fingerprint, normalise_default
from incidents.models import LOCK_TABLE, Column, Table
from incidents.render import HISTORY_TABLE, DesiredState

# A column rebuild (plan._rebuild) copies values into `<column>__INCIDENTS_REBUILD` and renames it back;
# diff recognises that scratch column so a rebuild interrupted by a failure converges on the next deploy.
REBUILD_SUFFIX = "__incidents_rebuild"

# Change kinds, in the order a report lists them.
KINDS = (
    "missing_database", "missing_schema", "missing_table", "unexpected_table",
    "missing_column", "renamed_column", "unexpected_column", "type_changed", "nullability_changed",
    "default_changed", "comment_changed", "table_comment_changed", "config_changed",
    "missing_view", "changed_view", "unexpected_view",
)


@dataclass(frozen=True)
class Change:
    """One difference. `declared`/`live` are display strings; `destructive` means applying it can
    lose data or cannot be done in place, so deploy refuses it without --allow-destructive."""

    kind: str
    object_kind: str  # database | schema | table | column | view | reference_data
    object: str       # table or view name (lower case as declared; upper case when only live)
    column: str | None = None
    declared: str | None = None
    live: str | None = None
    destructive: bool = False
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _upper(name: str) -> str:
    return name.upper()


def diff(desired: DesiredState, live: LiveState, backend: str) -> list[Change]:
    env = desired.env
    changes: list[Change] = []
    if not live.database_exists:
        changes.append(Change("missing_database", "database", env.database, detail="database does not exist"))
    if not live.schema_exists:
        changes.append(Change("missing_schema", "schema", env.schema, detail="schema does not exist"))
    if not live.schema_exists:
        changes += [Change("missing_table", "table", t.name, detail="table does not exist")
                    for t, _ in desired.tables]
        changes.append(Change("missing_table", "table", HISTORY_TABLE, detail="deploy history table does not exist"))
        changes += [Change("missing_view", "view", v.name, detail="view does not exist") for v, _ in desired.views]
        return changes

    declared_tables = {_upper(t.name) for t, _ in desired.tables} | {_upper(HISTORY_TABLE), _upper(LOCK_TABLE)}
    for table, rendered in desired.tables:
        live_table = live.tables.get(_upper(table.name))
        if live_table is None:
            changes.append(Change("missing_table", "table", table.name, detail="table does not exist"))
            continue
        table_changes = _table_changes(table, live_table, backend)
        changes += table_changes
        recorded = live.history.get(("table", _upper(table.name)))
        if not table_changes and recorded and recorded.checksum != rendered.checksum:
            changes.append(Change("config_changed", "table", table.name, detail=(
                "config changed since the last deploy (keys, clustering or comments); "
                "deploy refreshes comments and records it")))
    if _upper(HISTORY_TABLE) not in live.tables:
        changes.append(Change("missing_table", "table", HISTORY_TABLE, detail="deploy history table does not exist"))
    for rendered in desired.reference_data:
        recorded = live.history.get(("reference_data", _upper(rendered.name)))
        if _upper(rendered.name) in live.tables and recorded and recorded.checksum != rendered.checksum:
            changes.append(Change("config_changed", "reference_data", rendered.name,
                                  detail="reference rows changed since the last deploy; deploy adds missing keys"))
    for name in sorted(set(live.tables) - declared_tables):
        rows = live.tables[name].row_count
        changes.append(Change("unexpected_table", "table", name, live=f"{rows} rows" if rows is not None else None,
                              destructive=True, detail="table is not declared in config/tables/"))

    declared_views = set()
    for view, rendered in desired.views:
        declared_views.add(_upper(view.name))
        text = live.views.get(_upper(view.name))
        if text is None:
            changes.append(Change("missing_view", "view", view.name, detail="view does not exist"))
            continue
        recorded = live.history.get(("view", _upper(view.name)))
        if recorded is None:
            changes.append(Change("changed_view", "view", view.name, detail="view was not created by incidents deploy"))
        elif recorded.checksum != rendered.checksum:
            changes.append(Change("changed_view", "view", view.name,
                                  detail="view definition changed in templates/config"))
        elif recorded.fingerprint and recorded.fingerprint != fingerprint(text):
            changes.append(Change("changed_view", "view", view.name, detail="view was replaced outside incidents"))
    for name in sorted(set(live.views) - declared_views):
        changes.append(Change("unexpected_view", "view", name, destructive=True,
                              detail="view is not declared in config/views.yml"))
    return changes


def _table_changes(table: Table, live: LiveTable, backend: str) -> list[Change]:
    changes: list[Change] = []
    matched: set[str] = set()
    empty = live.row_count == 0
    for column in table.columns:
        live_col = live.columns.get(_upper(column.name))
        scratch = _upper(column.name + REBUILD_SUFFIX)
        if live_col is None and column.renamed_from and _upper(column.renamed_from) in live.columns:
            matched.add(_upper(column.renamed_from))
            changes.append(Change("renamed_column", "column", table.name, column.name,
                                  declared=column.name, live=column.renamed_from,
                                  detail=f"rename {column.renamed_from} to {column.name} (renamed_from)"))
            live_col = live.columns[_upper(column.renamed_from)]
        elif live_col is None and scratch in live.columns:
            # A rebuild failed after dropping the old column: its values live on in the scratch column.
            matched.add(scratch)
            changes.append(Change("renamed_column", "column", table.name, column.name,
                                  declared=column.name, live=scratch.lower(),
                                  detail="finish an interrupted column rebuild: rename the rebuilt column back"))
            live_col = live.columns[scratch]
        if live_col is None:
            blocked = not column.nullable and column.default is None and not empty
            changes.append(Change(
                "missing_column", "column", table.name, column.name, declared=str(column.type), destructive=blocked,
                detail=("a NOT NULL column without a default cannot be added to a table with rows; "
                        "declare a default or make it nullable") if blocked else "column does not exist"))
            continue
        matched.add(live_col.name)
        changes += _column_changes(table, column, live_col, backend, empty)
    declared_columns = {_upper(c.name) for c in table.columns}
    for name, live_col in live.columns.items():
        if name in matched:
            continue
        # The live name as reported (like unexpected tables and views): plan quotes it exactly to drop it.
        if name.endswith(_upper(REBUILD_SUFFIX)) and name[:-len(REBUILD_SUFFIX)] in declared_columns:
            changes.append(Change("unexpected_column", "column", table.name, name, live=str(live_col.type),
                                  detail="scratch column left by an interrupted column rebuild; "
                                         "it holds only copied values"))
        else:
            changes.append(Change("unexpected_column", "column", table.name, name, live=str(live_col.type),
                                  destructive=True, detail="column is not declared; dropping it loses its data"))
    if backend != "local" and (table.comment or None) != live.comment:
        changes.append(Change("table_comment_changed", "table", table.name, declared=table.comment,
                              live=live.comment, detail="table comment differs"))
    return changes


def _column_changes(table: Table, column: Column, live: LiveColumn, backend: str, empty: bool) -> list[Change]:
    changes: list[Change] = []
    if not sqltypes.same_on_backend(column.type, live.type, backend):
        safe = is_widening(live.type, column.type)
        changes.append(Change(
            "type_changed", "column", table.name, column.name, declared=str(column.type), live=str(live.type),
            destructive=not safe,
            detail="widening is done in place" if safe else
            "not a widening (narrower, other family or other scale): the column must be rebuilt and values cast"))
    if column.nullable != live.nullable:
        if column.nullable:
            changes.append(Change("nullability_changed", "column", table.name, column.name, "NULL", "NOT NULL",
                                  detail="drop NOT NULL"))
        else:
            changes.append(Change("nullability_changed", "column", table.name, column.name, "NOT NULL", "NULL",
                                  destructive=not empty,
                                  detail="SET NOT NULL fails if the column holds NULLs" if not empty
                                  else "set NOT NULL"))
    declared_default = normalise_default(column.default)
    if declared_default != live.default:
        droppable = declared_default is None
        changes.append(Change(
            "default_changed", "column", table.name, column.name, declared=column.default, live=live.default,
            destructive=not droppable,
            detail="drop the default" if droppable else
            "Snowflake cannot change a column default in place: the column must be rebuilt"))
    if backend != "local" and (column.comment or None) != live.comment:
        changes.append(Change("comment_changed", "column", table.name, column.name, column.comment, live.comment,
                              detail="column comment differs"))
    return changes


def is_widening(live: sqltypes.SqlType, declared: sqltypes.SqlType) -> bool:
    """What Snowflake's ALTER COLUMN ... SET DATA TYPE can do in place."""
    if live.name != declared.name:
        return False
    if live.name == "VARCHAR":
        return declared.args[0] >= live.args[0]
    if live.name == "NUMBER":
        return declared.args[1] == live.args[1] and declared.args[0] >= live.args[0]
    return False
