"""Declared vs live: a pure function from (DesiredState, LiveState) to a list of typed Changes.

Types are canonicalised on both sides (sqltypes); what a backend cannot store (fakesnow forgets
column comments and VARCHAR lengths on reopen, reports LTZ as TZ) is not called drift: the
backend's `Capabilities` say what to compare. Views are compared through the deploy history: the
checksum of the rendered SQL we last applied, and the fingerprint of the view text the backend
reported right after (so a view replaced by hand shows up on either backend, while the backend's
own rewrite of our text does not).

One differ per object kind; `diff` only puts their changes in report order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from incidents.introspect import (
    HistoryEntry,
    LiveColumn,
    LiveState,
    LiveTable,
    default_digest,
    fingerprint,
    normalise_default,
)
from incidents.kinds import Backend, Capabilities, ChangeKind, ObjectKind
from incidents.models import LOCK_TABLE, Column, Table, View
from incidents.render import HISTORY_TABLE, DesiredState, Rendered
from incidents.sql import types as sqltypes

# A column rebuild (plan._rebuild) copies values into `<column>__INCIDENTS_REBUILD` and renames it back;
# diff recognises that scratch column so a rebuild interrupted by a failure converges on the next deploy.
REBUILD_SUFFIX = "__incidents_rebuild"

# Change kinds, in the order a report lists them.
KINDS = tuple(ChangeKind)


@dataclass(frozen=True)
class Change:
    """One difference. `declared`/`live` are display strings; `destructive` means applying it can
    lose data or cannot be done in place, so deploy refuses it without --allow-destructive."""

    kind: ChangeKind
    object_kind: ObjectKind
    object: str       # table or view name (lower case as declared; upper case when only live)
    column: str | None = None
    declared: str | None = None
    live: str | None = None
    destructive: bool = False
    detail: str = ""
    # Snowflake cannot apply it at all (not even with --allow-destructive): plan refuses it with `detail`.
    blocked: bool = False

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("blocked")
        return data


def _upper(name: str) -> str:
    return name.upper()


def diff(desired: DesiredState, live: LiveState, backend: Capabilities | Backend | str) -> list[Change]:
    """Every difference, in report order. `backend` is the target's Capabilities (or, as callers
    wrote it before, the name of its backend)."""
    caps = Capabilities.of(backend)
    changes = _container_changes(desired, live)
    if not live.schema_exists:
        return changes + _everything_missing(desired) + _access_diffs(desired, live)
    return [*changes, *_table_diffs(desired, live, caps), *_history_table_diff(live),
            *_reference_data_diffs(desired, live), *_stray_tables(desired, live),
            *_view_diffs(desired, live), *_stray_views(desired, live), *_access_diffs(desired, live)]


def _access_diffs(desired: DesiredState, live: LiveState) -> list[Change]:
    """Roles, grants and the objects around them, where the target has them (not on the local target)."""
    if desired.access is None or not live.access_supported:
        return []
    from incidents.access.changes import access_changes

    present = set(live.tables) | set(live.views)
    missing = {t.name.upper() for t, _ in desired.tables} | {v.name.upper() for v, _ in desired.views}
    return access_changes(desired.access, live.access, live.views, live.recorded, missing - present)


# --------------------------------------------------------------------------- database and schema

def _container_changes(desired: DesiredState, live: LiveState) -> list[Change]:
    env = desired.env
    changes = []
    if not live.database_exists:
        changes.append(Change(ChangeKind.MISSING_DATABASE, ObjectKind.DATABASE, env.database,
                              detail="database does not exist"))
    if not live.schema_exists:
        changes.append(Change(ChangeKind.MISSING_SCHEMA, ObjectKind.SCHEMA, env.schema, detail="schema does not exist"))
    return changes


def _everything_missing(desired: DesiredState) -> list[Change]:
    """No schema: every declared object is missing (nothing to compare)."""
    return [*(_missing_table(t.name) for t, _ in desired.tables), _missing_history_table(),
            *(_missing_view(v.name) for v, _ in desired.views)]


# --------------------------------------------------------------------------- tables

def _missing_table(name: str) -> Change:
    return Change(ChangeKind.MISSING_TABLE, ObjectKind.TABLE, name, detail="table does not exist")


def _missing_history_table() -> Change:
    return Change(ChangeKind.MISSING_TABLE, ObjectKind.TABLE, HISTORY_TABLE,
                  detail="deploy history table does not exist")


def _table_diffs(desired: DesiredState, live: LiveState, caps: Capabilities) -> list[Change]:
    return [change for table, rendered in desired.tables
            for change in _declared_table_diff(table, rendered, live, caps)]


def _declared_table_diff(table: Table, rendered: Rendered, live: LiveState, caps: Capabilities) -> list[Change]:
    live_table = live.tables.get(_upper(table.name))
    if live_table is None:
        return [_missing_table(table.name)]
    changes = _table_changes(table, live_table, caps, live)
    recorded = live.recorded(ObjectKind.TABLE, table.name)
    if not changes and recorded and recorded.checksum != rendered.checksum:
        # Keys, clustering and comments are not introspected: the checksum tells they changed.
        return [Change(ChangeKind.CONFIG_CHANGED, ObjectKind.TABLE, table.name, detail=(
            "config changed since the last deploy (keys, clustering or comments); "
            "deploy refreshes comments and records it"))]
    return changes


def _history_table_diff(live: LiveState) -> list[Change]:
    return [] if _upper(HISTORY_TABLE) in live.tables else [_missing_history_table()]


def _reference_data_diffs(desired: DesiredState, live: LiveState) -> list[Change]:
    changes = []
    for rendered in desired.reference_data:
        recorded = live.recorded(ObjectKind.REFERENCE_DATA, rendered.name)
        if _upper(rendered.name) in live.tables and recorded and recorded.checksum != rendered.checksum:
            changes.append(Change(ChangeKind.CONFIG_CHANGED, ObjectKind.REFERENCE_DATA, rendered.name,
                                  detail="reference rows changed since the last deploy; deploy adds missing keys"))
    return changes


def _stray_tables(desired: DesiredState, live: LiveState) -> list[Change]:
    # The tool's own tables live beside the declared ones and are never strays.
    declared = {_upper(t.name) for t, _ in desired.tables} | {_upper(HISTORY_TABLE), _upper(LOCK_TABLE)}
    changes = []
    for name in sorted(set(live.tables) - declared):
        rows = live.tables[name].row_count
        changes.append(Change(ChangeKind.UNEXPECTED_TABLE, ObjectKind.TABLE, name,
                              live=f"{rows} rows" if rows is not None else None,
                              destructive=True, detail="table is not declared in config/tables/"))
    return changes


# --------------------------------------------------------------------------- columns of one table

def _table_changes(table: Table, live: LiveTable, caps: Capabilities, state: LiveState | None = None) -> list[Change]:
    changes: list[Change] = []
    matched: set[str] = set()
    history = state or LiveState()
    for column in table.columns:
        recorded = history.recorded(ObjectKind.COLUMN, f"{table.name}.{column.name}")
        column_changes, live_names = _declared_column_diff(table, column, live, caps, recorded)
        changes += column_changes
        matched |= live_names
    changes += _undeclared_columns(table, live, matched)
    if caps.keeps_table_comments and (table.comment or None) != live.comment:
        changes.append(Change(ChangeKind.TABLE_COMMENT_CHANGED, ObjectKind.TABLE, table.name, declared=table.comment,
                              live=live.comment, detail="table comment differs"))
    return changes


def _declared_column_diff(table: Table, column: Column, live: LiveTable, caps: Capabilities,
                          recorded: HistoryEntry | None = None) -> tuple[list[Change], set[str]]:
    """The changes to one declared column, and the live columns it accounts for."""
    empty = live.row_count == 0
    renamed = _renamed_column(table, column, live)
    if renamed is not None:
        live_name, rename = renamed
        live_col = live.columns[live_name]
        return [rename, *_column_changes(table, column, live_col, caps, empty, recorded)], {live_name, live_col.name}
    live_col = live.columns.get(_upper(column.name))
    if live_col is None:
        return [_missing_column(table, column, live)], set()
    return _column_changes(table, column, live_col, caps, empty, recorded), {live_col.name}


def _renamed_column(table: Table, column: Column, live: LiveTable) -> tuple[str, Change] | None:
    """The live column a missing declared column lives on in under another name (its renamed_from,
    or the scratch column of an interrupted rebuild), and the rename that brings it back."""
    if _upper(column.name) in live.columns:
        return None
    if column.renamed_from and _upper(column.renamed_from) in live.columns:
        return _upper(column.renamed_from), Change(
            ChangeKind.RENAMED_COLUMN, ObjectKind.COLUMN, table.name, column.name, declared=column.name,
            live=column.renamed_from, detail=f"rename {column.renamed_from} to {column.name} (renamed_from)")
    scratch = _upper(column.name + REBUILD_SUFFIX)
    if scratch in live.columns:
        # A rebuild failed after dropping the old column: its values live on in the scratch column.
        return scratch, Change(
            ChangeKind.RENAMED_COLUMN, ObjectKind.COLUMN, table.name, column.name, declared=column.name,
            live=scratch.lower(), detail="finish an interrupted column rebuild: rename the rebuilt column back")
    return None


def _missing_column(table: Table, column: Column, live: LiveTable) -> Change:
    blocked = not column.nullable and column.default is None and live.row_count != 0
    return Change(
        ChangeKind.MISSING_COLUMN, ObjectKind.COLUMN, table.name, column.name, declared=str(column.type),
        destructive=blocked,
        detail=("a NOT NULL column without a default cannot be added to a table with rows; "
                "declare a default or make it nullable") if blocked else "column does not exist")


def _undeclared_columns(table: Table, live: LiveTable, matched: set[str]) -> list[Change]:
    declared = {_upper(c.name) for c in table.columns}
    # The live name as reported (like unexpected tables and views): plan quotes it exactly to drop it.
    return [_undeclared_column(table, name, live_col, declared) for name, live_col in live.columns.items()
            if name not in matched]


def _undeclared_column(table: Table, name: str, live_col: LiveColumn, declared: set[str]) -> Change:
    if name.endswith(_upper(REBUILD_SUFFIX)) and name[:-len(REBUILD_SUFFIX)] in declared:
        return Change(ChangeKind.UNEXPECTED_COLUMN, ObjectKind.COLUMN, table.name, name, live=str(live_col.type),
                      detail="scratch column left by an interrupted column rebuild; it holds only copied values")
    return Change(ChangeKind.UNEXPECTED_COLUMN, ObjectKind.COLUMN, table.name, name, live=str(live_col.type),
                  destructive=True, detail="column is not declared; dropping it loses its data")


# --------------------------------------------------------------------------- one column

def _column_changes(table: Table, column: Column, live: LiveColumn, caps: Capabilities,
                    empty: bool, recorded: HistoryEntry | None = None) -> list[Change]:
    found = (_type_change(table, column, live, caps, empty), _nullability_change(table, column, live, empty),
             _default_change(table, column, live, recorded), _comment_change(table, column, live, caps))
    return [change for change in found if change is not None]


_SEMI_STRUCTURED = ("VARIANT", "OBJECT", "ARRAY")


def _constraint_on(table: Table, column: Column) -> str | None:
    if column.name in table.primary_key:
        return "PRIMARY KEY"
    if any(column.name in key for key in table.unique_keys):
        return "UNIQUE key"
    if any(column.name in fk.columns for fk in table.foreign_keys):
        return "FOREIGN KEY"
    return None


def _rebuild_blocker(table: Table, column: Column, empty: bool) -> str | None:
    """Why a column rebuild (add, copy, drop, rename) cannot run on Snowflake, or None."""
    constraint = _constraint_on(table, column)
    if constraint:
        # Dropping the column would drop or break the constraint; re-declaring it (DROP/ADD CONSTRAINT,
        # and the foreign keys of other tables that reference it) is not planned yet.
        return (f"the column is part of the table's {constraint}: a rebuild would lose the constraint; "
                "change it by hand (rebuild the table) or keep the column as it is")
    if column.function_default:
        return (f"the column's default {column.default} cannot be given to a column added by ALTER TABLE "
                "(Snowflake takes only literal defaults there): rebuild the table by hand (CREATE TABLE ... AS "
                "SELECT, ALTER TABLE ... SWAP WITH) or declare a literal default")
    if column.type.name in _SEMI_STRUCTURED and not column.nullable and not empty:
        return (f"Snowflake cannot set NOT NULL on a {column.type.name} column of a table that holds rows; "
                "declare it nullable")
    return None


def _types_match(declared: sqltypes.SqlType, live: sqltypes.SqlType, caps: Capabilities) -> bool:
    # sqltypes names its loose comparison (what fakesnow cannot store) after the local backend.
    return sqltypes.same_on_backend(declared, live, Backend.SNOWFLAKE if caps.keeps_exact_types else Backend.LOCAL)


def _type_change(table: Table, column: Column, live: LiveColumn, caps: Capabilities,
                 empty: bool = False) -> Change | None:
    if _types_match(column.type, live.type, caps):
        return None
    safe = is_widening(live.type, column.type)
    blocker = None if safe else _rebuild_blocker(table, column, empty)
    return Change(
        ChangeKind.TYPE_CHANGED, ObjectKind.COLUMN, table.name, column.name, declared=str(column.type),
        live=str(live.type), destructive=not safe, blocked=blocker is not None,
        detail="widening is done in place" if safe else blocker or
        "not a widening (narrower, other family or other scale): the column must be rebuilt and values cast")


def _nullability_change(table: Table, column: Column, live: LiveColumn, empty: bool) -> Change | None:
    if column.nullable == live.nullable:
        return None
    if column.nullable:
        return Change(ChangeKind.NULLABILITY_CHANGED, ObjectKind.COLUMN, table.name, column.name, "NULL", "NOT NULL",
                      detail="drop NOT NULL")
    if column.type.name in _SEMI_STRUCTURED and not empty:
        # https://docs.snowflake.com/en/sql-reference/sql/alter-table-column (usage notes)
        return Change(ChangeKind.NULLABILITY_CHANGED, ObjectKind.COLUMN, table.name, column.name, "NOT NULL", "NULL",
                      destructive=True, blocked=True,
                      detail=f"Snowflake cannot set NOT NULL on a {column.type.name} column of a table that holds "
                             "rows; keep it nullable or empty the table")
    return Change(ChangeKind.NULLABILITY_CHANGED, ObjectKind.COLUMN, table.name, column.name, "NOT NULL", "NULL",
                  destructive=not empty,
                  detail="SET NOT NULL fails if the column holds NULLs" if not empty else "set NOT NULL")


def _default_change(table: Table, column: Column, live: LiveColumn,
                    recorded: HistoryEntry | None = None) -> Change | None:
    """Compared first against what deploy recorded right after it set the default (the backend's own
    text for our declared default), so no backend's spelling of it reads as drift."""
    if (recorded is not None and column.default is not None and recorded.checksum == default_digest(column.default)
            and recorded.fingerprint == default_digest(live.default_text)):
        return None
    if normalise_default(column.default) == live.default or _same_string(column.default, live.default_text):
        return None
    blocker = _rebuild_blocker(table, column, empty=True)
    return Change(
        ChangeKind.DEFAULT_CHANGED, ObjectKind.COLUMN, table.name, column.name, declared=column.default,
        live=live.default, destructive=True, blocked=blocker is not None,
        detail=blocker or ("Snowflake refuses DROP DEFAULT on a column whose default ALTER TABLE added, and cannot "
                           "change a default in place: the column is rebuilt (values copied)"))


def _same_string(declared: str | None, live: str | None) -> bool:
    """A string default whose live text holds the same value in either spelling: Snowflake's (a
    backslash escapes) or DuckDB's (it stores the characters as they are, '' for a quote). For
    targets deployed before deploy recorded every default's live text."""
    from incidents.sql.text import string_value

    value = string_value(declared or "", backslash_escapes=True)
    return value is not None and value in (string_value(live or "", backslash_escapes=True),
                                           string_value(live or "", backslash_escapes=False))


def _comment_change(table: Table, column: Column, live: LiveColumn, caps: Capabilities) -> Change | None:
    if not caps.keeps_column_comments or (column.comment or None) == live.comment:
        return None
    return Change(ChangeKind.COMMENT_CHANGED, ObjectKind.COLUMN, table.name, column.name, column.comment,
                  live.comment, detail="column comment differs")


def is_widening(live: sqltypes.SqlType, declared: sqltypes.SqlType) -> bool:
    """What Snowflake's ALTER COLUMN ... SET DATA TYPE can do in place."""
    if live.name != declared.name:
        return False
    if live.name == "VARCHAR":
        return declared.args[0] >= live.args[0]
    if live.name == "NUMBER":
        return declared.args[1] == live.args[1] and declared.args[0] >= live.args[0]
    return False


# --------------------------------------------------------------------------- views

def _missing_view(name: str) -> Change:
    return Change(ChangeKind.MISSING_VIEW, ObjectKind.VIEW, name, detail="view does not exist")


def _view_diffs(desired: DesiredState, live: LiveState) -> list[Change]:
    found = (_view_change(view, rendered, live) for view, rendered in desired.views)
    return [change for change in found if change is not None]


def _view_change(view: View, rendered: Rendered, live: LiveState) -> Change | None:
    if _upper(view.name) not in live.views:
        return _missing_view(view.name)
    text = live.views[_upper(view.name)]
    recorded = live.recorded(ObjectKind.VIEW, view.name)
    if recorded is None:
        return _changed_view(view, "view was not created by incidents deploy")
    if recorded.checksum != rendered.checksum:
        return _changed_view(view, "view definition changed in templates/config")
    if text is None:
        # https://docs.snowflake.com/en/sql-reference/info-schema/views : NULL for a role that does not own it.
        return Change(ChangeKind.VIEW_NOT_COMPARABLE, ObjectKind.VIEW, view.name, detail=(
            "cannot compare: the target returned no view text (the role does not own the view?); "
            "deploy with the owning role to check it"))
    if recorded.fingerprint and recorded.fingerprint != fingerprint(text):
        return _changed_view(view, "view was replaced outside incidents")
    return None


def _changed_view(view: View, why: str) -> Change:
    return Change(ChangeKind.CHANGED_VIEW, ObjectKind.VIEW, view.name, detail=why)


def _stray_views(desired: DesiredState, live: LiveState) -> list[Change]:
    declared = {_upper(v.name) for v, _ in desired.views}
    if desired.access is not None:  # Standard Edition's secure views with PII masked
        declared |= set(desired.access.masked_views)
    return [Change(ChangeKind.UNEXPECTED_VIEW, ObjectKind.VIEW, name, destructive=True,
                   detail="view is not declared in config/views.yml") for name in sorted(set(live.views) - declared)]
