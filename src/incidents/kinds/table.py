"""Tables: created when missing, evolved in place without losing a row, rebuilt only when allowed.

Live: the columns of every table of the schema in one INFORMATION_SCHEMA.COLUMNS query (the tables
themselves come with the schema, kinds.containers). Types are canonicalised on both sides
(sql.types); what a backend cannot store (fakesnow forgets column comments and VARCHAR lengths on
reopen, reports LTZ as TZ) is not called drift: the target's Capabilities say what to compare. Where
the target reports it (Snowflake's TABLES.CLUSTERING_KEY, read with the schema's tables), a clustering
key dropped or changed by hand is drift and deploy sets the declared key again. Keys, retention and
comments are not introspected: the checksum the last deploy recorded tells they changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from incidents.kinds.base import (
    ALTER,
    CONFIG_CHANGED,
    CREATE,
    DROP,
    RECORD,
    Backend,
    Bookkeeping,
    Capabilities,
    Change,
    ChangeKind,
    Desired,
    DiffContext,
    HistoryEntry,
    Kind,
    LiveColumn,
    LiveState,
    LiveTable,
    Phase,
    PlanContext,
    Record,
    Step,
    rendered,
)
from incidents.kinds.containers import SCHEMA_FILE
from incidents.kinds.namespace import (
    COLUMN,
    MISSING_TABLE,
    TABLE,
    UNEXPECTED_TABLE,
    Claims,
    claims,
    room,
    stray,
    unclaimed,
)
from incidents.project.deployment import Deployment
from incidents.project.models import Column, Table
from incidents.sql import types as sqltypes
from incidents.sql.session import Session
from incidents.sql.text import string_value

MISSING_COLUMN, RENAMED_COLUMN, UNEXPECTED_COLUMN = (ChangeKind("missing_column"), ChangeKind("renamed_column"),
                                                     ChangeKind("unexpected_column"))
TYPE_CHANGED, NULLABILITY_CHANGED, DEFAULT_CHANGED = (ChangeKind("type_changed"), ChangeKind("nullability_changed"),
                                                      ChangeKind("default_changed"))
COMMENT_CHANGED, TABLE_COMMENT_CHANGED = ChangeKind("comment_changed"), ChangeKind("table_comment_changed")
DROPPED_CLUSTERING_KEY = ChangeKind("dropped_clustering_key")
CLUSTERING_KEY_CHANGED = ChangeKind("clustering_key_changed")


class Tables(Kind):
    name = "table"
    object_kinds = (TABLE, COLUMN)
    change_kinds = (MISSING_TABLE, UNEXPECTED_TABLE, MISSING_COLUMN, RENAMED_COLUMN, UNEXPECTED_COLUMN,
                    TYPE_CHANGED, NULLABILITY_CHANGED, DEFAULT_CHANGED, COMMENT_CHANGED, TABLE_COMMENT_CHANGED,
                    DROPPED_CLUSTERING_KEY, CLUSTERING_KEY_CHANGED, CONFIG_CHANGED)

    def desired(self, dep: Deployment) -> Sequence[Desired]:
        return [rendered(dep, TABLE, t.name, "schema/table.sql.j2", source=t.source, file=SCHEMA_FILE,
                         namespace="table", model=t, table=t) for t in dep.project.tables]

    def read_live(self, session: Session, dep: Deployment, live: LiveState) -> None:
        if not live.tables:
            return  # no tables, no columns to read (the schema's views are read all the same)
        columns: dict[str, dict[str, LiveColumn]] = {name: {} for name in live.tables}
        for r in session.query(dep.render("introspect/columns.sql.j2"), obj=dep.schema):
            if r["TABLE_NAME"] in columns:  # not a view's columns
                columns[r["TABLE_NAME"]][r["COLUMN_NAME"]] = _live_column(r)
        for name, table in list(live.tables.items()):
            live.tables[name] = dataclasses.replace(table, columns=columns[name])

    def changes(self, dc: DiffContext) -> list[Change]:
        if not dc.live.schema_exists:
            return [missing_table(t.name) for t in dc.desired.of(TABLE)]
        found = [change for obj in dc.desired.of(TABLE)
                 for change in _masked_rebuilds_refused(dc, obj.model, _declared_table_diff(obj, dc.live, dc.caps))]
        return found + _stray_tables(dc)

    def steps(self, pc: PlanContext) -> list[Step]:
        _, claimed = claims(pc)
        plans = [_in_place_plan(pc, name, table_changes) for name, table_changes in _in_place_changes(pc).items()]
        return [*_table_create_steps(pc, claimed), *(s for p in plans for s in p.now),
                *(s for p in plans for s in p.drops), *unclaimed(pc, TABLE), *(s for p in plans for s in p.records)]

    def unrecorded(self, pc: PlanContext) -> list[Record]:
        """Columns with a default as declared whose live text no deploy recorded."""
        drifting = {(c.object, c.column) for c in pc.changes if c.kind == DEFAULT_CHANGED}
        return [("column", f"{t.name}.{c.name}", None) for t in (o.model for o in pc.desired.of(TABLE))
                for c in t.columns
                if c.default is not None and (t.name, c.name) not in drifting and t.name.upper() in pc.live.tables
                and pc.live.recorded(COLUMN, f"{t.name}.{c.name}") is None]

    def bookkeeping(self, session: Session, dep: Deployment, ran: Sequence[Step]) -> Bookkeeping:
        """Each backend spells a default its own way (Snowflake writes a function's casts out, DuckDB
        keeps a string's backslashes unescaped); the text it reported right after this deploy set the
        default is what diff compares against, never a guess of its spelling. Only defaults this
        deploy set: a refused default change on the same table must stay drift."""
        wanted = {pair for step in ran for pair in step.defaults_set}
        wanted |= {(name.split(".", 1)[0], name.split(".", 1)[1]) for step in ran for kind, name, _ in step.records
                   if kind == "column"}
        declared = {(t.name.upper(), c.name.upper()): (t.name, c) for t in dep.project.tables for c in t.columns
                    if c.default is not None and (t.name, c.name) in wanted}
        if not declared:
            return Bookkeeping()
        rows = []
        for r in session.query(dep.render("introspect/columns.sql.j2"), obj="deploy history"):
            found = declared.get((r["TABLE_NAME"], r["COLUMN_NAME"]))
            if found is not None and r["COLUMN_DEFAULT"] is not None:
                table, column = found
                rows.append((COLUMN, f"{table}.{column.name}", default_digest(column.default),
                             default_digest(r["COLUMN_DEFAULT"])))
        return Bookkeeping(rows=tuple(rows))


def _live_column(r: dict[str, object]) -> LiveColumn:
    # Not DATETIME_PRECISION: Snowflake documents it as "not applicable" (fakesnow lacks it).
    # Timestamp precision is compared through the table's recorded checksum instead.
    default = r["COLUMN_DEFAULT"]
    return LiveColumn(
        name=str(r["COLUMN_NAME"]),
        type=_live_type(r),
        nullable=str(r["IS_NULLABLE"]).upper() == "YES",
        default=normalise_default(default if default is None else str(default)),
        comment=str(r["COMMENT"]) if r["COMMENT"] else None,
        default_text=None if default is None else str(default),
    )


def _live_type(r: dict[str, object]) -> sqltypes.SqlType:
    try:
        return sqltypes.from_information_schema(r["DATA_TYPE"], r["CHARACTER_MAXIMUM_LENGTH"],  # type: ignore[arg-type]
                                                r["NUMERIC_PRECISION"], r["NUMERIC_SCALE"])  # type: ignore[arg-type]
    except ValueError:
        # A type config cannot declare (a stray table's; DuckDB's HUGEINT from a SUM in a materialized view's
        # local table): kept as reported, so it differs from any declared type instead of failing the read.
        return sqltypes.SqlType(str(r["DATA_TYPE"]).upper())


def missing_table(name: str) -> Change:
    return Change(MISSING_TABLE, TABLE, name, detail="table does not exist")


def _stray_tables(dc: DiffContext) -> list[Change]:
    # The tool's own tables live beside the declared ones and are never strays.
    declared = dc.desired.named("table") | dc.desired.own_tables
    return [stray(TABLE, name, UNEXPECTED_TABLE, "table is not declared in config/tables/",
                  live=f"{rows} rows" if (rows := dc.live.tables[name].row_count) is not None else None)
            for name in sorted(set(dc.live.tables) - declared)]


def _declared(pc: PlanContext, name: str) -> Desired:
    return next(o for o in pc.desired.of(TABLE) if o.name == name)


# A column rebuild (_rebuild) copies values into `<column>__INCIDENTS_REBUILD` and renames it back;
# diff recognises that scratch column so a rebuild interrupted by a failure converges on the next deploy.
# A column rebuild (plan._rebuild) copies values into `<column>__INCIDENTS_REBUILD` and renames it back;
# diff recognises that scratch column so a rebuild interrupted by a failure converges on the next deploy.
REBUILD_SUFFIX = "__incidents_rebuild"


def _masked_rebuilds_refused(dc: DiffContext, table: Table, changes: list[Change]) -> list[Change]:
    """A rebuild copies a column with UPDATE ... SET new = old, and that read goes through the column's
    masking policy ("applied to the column at every location where the column appears",
    https://docs.snowflake.com/en/user-guide/security-column-ddm-use), so a deploy role without pii_reader
    would write the masked text for good; the policy and tag would go with the dropped column too. Where
    masking policies are deployed, a rebuild of a PII column is refused, naming what to do."""
    env = dc.dep.env
    if not (dc.live.access_control and env.access is not None and env.masks_with_policies):
        return changes
    pii = {c.name for c in table.columns if c.pii}
    rebuilt = (TYPE_CHANGED, DEFAULT_CHANGED)
    return [dataclasses.replace(c, destructive=True, blocked=True, detail=(
        f"{table.name}.{c.column} has a masking policy: a rebuild would copy its masked values and drop the policy "
        f"and tag; change it by hand as a role holding {env.access.role('pii_reader').name.upper()} (unset the "
        "policy, copy, set the policy and tag again), or keep the column as it is"))
        if c.kind in rebuilt and c.column in pii and c.destructive and not c.blocked else c for c in changes]


def _declared_table_diff(obj: Desired, live: LiveState, caps: Capabilities) -> list[Change]:
    table: Table = obj.model
    live_table = live.tables.get(table.name.upper())
    if live_table is None:
        return [missing_table(table.name)]
    changes = _table_changes(table, live_table, caps, live)
    recorded = live.recorded(TABLE, table.name)
    if not changes and recorded and recorded.checksum != obj.checksum:
        # Keys and comments are not introspected: the checksum tells they changed (its step sets the key again).
        return [Change(CONFIG_CHANGED, TABLE, table.name, detail=(
            "config changed since the last deploy (keys, clustering or comments); "
            "deploy refreshes comments and records it"))]
    clustering = _clustering_change(table, live_table)
    return changes + ([clustering] if clustering else [])


def _clustering_change(table: Table, live: LiveTable) -> Change | None:
    """The live clustering key against the declared one, compared by the columns it names: Snowflake
    reports the key as text (LINEAR(...) around the expressions) whose spelling is not the declared one."""
    if live.clustering_key is None:
        return None  # the target does not report clustering keys (fakesnow)
    declared = [k.column.upper() for k in table.cluster_by]
    found = clustering_columns(live.clustering_key)
    if declared == found:
        return None
    shown = ", ".join(f"TO_DATE({k.column})" if k.to_date else k.column for k in table.cluster_by) or None
    if declared and not found:
        return Change(DROPPED_CLUSTERING_KEY, TABLE, table.name, declared=shown,
                      detail="the clustering key was dropped; deploy sets it again")
    return Change(CLUSTERING_KEY_CHANGED, TABLE, table.name, declared=shown, live=live.clustering_key or None,
                  detail="the clustering key differs from the declared one; deploy sets the declared key "
                         "(or drops the key when none is declared)")


def clustering_columns(key: str) -> list[str]:
    """The columns a clustering key as reported names, upper case, in order: every identifier that is
    not a function name (LINEAR, TO_DATE ...)."""
    names = re.findall(r'("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)(\s*\()?', key)
    return [name[1:-1].replace('""', '"') if name.startswith('"') else name.upper() for name, call in names if not call]


def _table_changes(table: Table, live: LiveTable, caps: Capabilities, state: LiveState | None = None) -> list[Change]:
    changes: list[Change] = []
    matched: set[str] = set()
    history = state or LiveState()
    for column in table.columns:
        recorded = history.recorded(COLUMN, f"{table.name}.{column.name}")
        column_changes, live_names = _declared_column_diff(table, column, live, caps, recorded)
        changes += column_changes
        matched |= live_names
    changes += _undeclared_columns(table, live, matched)
    if caps.keeps_table_comments and (table.comment or None) != live.comment:
        changes.append(Change(TABLE_COMMENT_CHANGED, TABLE, table.name, declared=table.comment,
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
    found = live.columns.get(column.name.upper())
    if found is None:
        return [_missing_column(table, column, live)], set()
    live_col = found
    return _column_changes(table, column, live_col, caps, empty, recorded), {live_col.name}


def _renamed_column(table: Table, column: Column, live: LiveTable) -> tuple[str, Change] | None:
    """The live column a missing declared column lives on in under another name (its renamed_from,
    or the scratch column of an interrupted rebuild), and the rename that brings it back."""
    if column.name.upper() in live.columns:
        return None
    if column.renamed_from and column.renamed_from.upper() in live.columns:
        return column.renamed_from.upper(), Change(
            RENAMED_COLUMN, COLUMN, table.name, column.name, declared=column.name,
            live=column.renamed_from, detail=f"rename {column.renamed_from} to {column.name} (renamed_from)")
    scratch = (column.name + REBUILD_SUFFIX).upper()
    if scratch in live.columns:
        # A rebuild failed after dropping the old column: its values live on in the scratch column.
        return scratch, Change(
            RENAMED_COLUMN, COLUMN, table.name, column.name, declared=column.name,
            live=scratch.lower(), detail="finish an interrupted column rebuild: rename the rebuilt column back")
    return None


def _missing_column(table: Table, column: Column, live: LiveTable) -> Change:
    blocked = not column.nullable and column.default is None and live.row_count != 0
    return Change(
        MISSING_COLUMN, COLUMN, table.name, column.name, declared=str(column.type),
        destructive=blocked, blocked=blocked,
        detail=("a NOT NULL column without a default cannot be added to a table with rows; "
                "declare a default or make it nullable") if blocked else "column does not exist")


def _undeclared_columns(table: Table, live: LiveTable, matched: set[str]) -> list[Change]:
    declared = {c.name.upper() for c in table.columns}
    # The live name as reported (like unexpected tables and views): plan quotes it exactly to drop it.
    return [_undeclared_column(table, name, live_col, declared) for name, live_col in live.columns.items()
            if name not in matched]


def _undeclared_column(table: Table, name: str, live_col: LiveColumn, declared: set[str]) -> Change:
    if name.endswith(REBUILD_SUFFIX.upper()) and name[:-len(REBUILD_SUFFIX)] in declared:
        return Change(UNEXPECTED_COLUMN, COLUMN, table.name, name, live=str(live_col.type),
                      detail="scratch column left by an interrupted column rebuild; it holds only copied values")
    return Change(UNEXPECTED_COLUMN, COLUMN, table.name, name, live=str(live_col.type),
                  destructive=True, detail="column is not declared; dropping it loses its data")


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
        TYPE_CHANGED, COLUMN, table.name, column.name, declared=str(column.type),
        live=str(live.type), destructive=not safe, blocked=blocker is not None,
        detail="widening is done in place" if safe else blocker or
        "not a widening (narrower, other family or other scale): the column must be rebuilt and values cast")


def _nullability_change(table: Table, column: Column, live: LiveColumn, empty: bool) -> Change | None:
    if column.nullable == live.nullable:
        return None
    if column.nullable:
        return Change(NULLABILITY_CHANGED, COLUMN, table.name, column.name, "NULL", "NOT NULL",
                      detail="drop NOT NULL")
    if column.type.name in _SEMI_STRUCTURED and not empty:
        # https://docs.snowflake.com/en/sql-reference/sql/alter-table-column (usage notes)
        return Change(NULLABILITY_CHANGED, COLUMN, table.name, column.name, "NOT NULL", "NULL",
                      destructive=True, blocked=True,
                      detail=f"Snowflake cannot set NOT NULL on a {column.type.name} column of a table that holds "
                             "rows; keep it nullable or empty the table")
    return Change(NULLABILITY_CHANGED, COLUMN, table.name, column.name, "NOT NULL", "NULL",
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
        DEFAULT_CHANGED, COLUMN, table.name, column.name, declared=column.default,
        live=live.default, destructive=True, blocked=blocker is not None,
        detail=blocker or ("Snowflake refuses DROP DEFAULT on a column whose default ALTER TABLE added, and cannot "
                           "change a default in place: the column is rebuilt (values copied)"))


def _same_string(declared: str | None, live: str | None) -> bool:
    """A string default whose live text holds the same value in either spelling: Snowflake's (a
    backslash escapes) or DuckDB's (it stores the characters as they are, '' for a quote). For
    targets deployed before deploy recorded every default's live text."""
    value = string_value(declared or "", backslash_escapes=True)
    return value is not None and value in (string_value(live or "", backslash_escapes=True),
                                           string_value(live or "", backslash_escapes=False))


def _comment_change(table: Table, column: Column, live: LiveColumn, caps: Capabilities) -> Change | None:
    if not caps.keeps_column_comments or (column.comment or None) == live.comment:
        return None
    return Change(COMMENT_CHANGED, COLUMN, table.name, column.name, column.comment,
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




# --------------------------------------------------------------------------- plan



def _table_create_steps(pc: PlanContext, claimed: Claims) -> list[Step]:
    missing = pc.names(MISSING_TABLE)
    return [step for obj in pc.desired.of(TABLE) if obj.name in missing for step in _create_table(claimed, obj)]


def _create_table(claimed: Claims, obj: Desired) -> list[Step]:
    table: Table = obj.model
    clear, blocked = room(claimed, TABLE, table.name, Phase.CREATE)
    return [*clear, Step(TABLE, table.name, CREATE, () if blocked else obj.statements, checksum=obj.checksum,
                         refused=blocked, phase=Phase.CREATE, parallel=True, after=table.parents,
                         defaults_set=tuple((table.name, c.name) for c in table.columns))]


@dataclass(frozen=True)
class _TablePlan:
    """One table's in-place changes: `now` runs with the other in-place changes, `drops` in the
    destructive tail, `records` last of all (after the drops)."""

    now: tuple[Step, ...] = ()
    drops: tuple[Step, ...] = ()
    records: tuple[Step, ...] = ()


_ORDER = {RENAMED_COLUMN: 0, MISSING_COLUMN: 1, TYPE_CHANGED: 2,
          DEFAULT_CHANGED: 3, NULLABILITY_CHANGED: 4, COMMENT_CHANGED: 5,
          TABLE_COMMENT_CHANGED: 6, DROPPED_CLUSTERING_KEY: 7, CLUSTERING_KEY_CHANGED: 7, CONFIG_CHANGED: 7,
          UNEXPECTED_COLUMN: 8}
_CLUSTERING = (DROPPED_CLUSTERING_KEY, CLUSTERING_KEY_CHANGED)


def _in_place_changes(pc: PlanContext) -> dict[str, list[Change]]:
    """Changes applied to an existing table, per table, tables in the order diff reported them."""
    per_table: dict[str, list[Change]] = defaultdict(list)
    for change in pc.changes:
        if change.object_kind == COLUMN or change.kind in (TABLE_COMMENT_CHANGED, *_CLUSTERING) or (
                change.kind == CONFIG_CHANGED and change.object_kind == TABLE):
            per_table[change.object].append(change)
    return per_table


def _in_place_plan(pc: PlanContext, name: str, table_changes: list[Change]) -> _TablePlan:
    """One ALTER step per table, so its checksum is recorded only when all of its changes ran."""
    obj = _declared(pc, name)
    table: Table = obj.model
    judged = [(c, pc.refusal(c)) for c in sorted(table_changes, key=lambda c: _ORDER.get(c.kind, 99))]
    refusals = tuple(_refused_column_step(name, c, reason) for c, reason in judged if reason)
    runnable = [c for c, reason in judged if not reason]
    drops = tuple(_drop_column_step(pc, table, c) for c in runnable if c.kind == UNEXPECTED_COLUMN)
    statements = tuple(s for c in runnable if c.kind != UNEXPECTED_COLUMN
                       for s in _column_statements(pc, table, c))
    in_place = tuple(c for c in table_changes if c.kind != UNEXPECTED_COLUMN)
    if statements:
        # `changes`: what this step applies (deploy records the defaults it set), not the refused ones.
        applied = tuple(c for c in runnable if c.kind != UNEXPECTED_COLUMN)
        alter = Step(TABLE, name, ALTER, statements, destructive=any(c.destructive for c in in_place),
                     checksum=None if refusals else obj.checksum, changes=applied, phase=Phase.ALTER, parallel=True,
                     defaults_set=tuple((name, c.column) for c in applied if c.kind in _SETS_DEFAULT and c.column))
        return _TablePlan(now=(*refusals, alter), drops=drops)
    if not refusals and len(in_place) < len(table_changes):
        # Only column drops: record the new checksum after them, or the next diff would call the
        # (already applied) removal of a column from the config "config_changed".
        record = Step(TABLE, name, RECORD, (), checksum=obj.checksum, changes=tuple(table_changes),
                      phase=Phase.RECORD)
        return _TablePlan(drops=drops, records=(record,))
    return _TablePlan(now=refusals, drops=drops)


def _refused_column_step(table: str, change: Change, reason: str) -> Step:
    return Step(COLUMN, f"{table}.{change.column}", change.kind, (), destructive=True, refused=reason,
                changes=(change,), phase=Phase.ALTER)


def _drop_column_step(pc: PlanContext, table: Table, change: Change) -> Step:
    return Step(COLUMN, f"{table.name}.{change.column}", DROP,
                (pc.sql("deploy/drop_column", table=table, column=change.column),),
                destructive=change.destructive, changes=(change,), phase=Phase.DROP_COLUMN)


def _column_statements(pc: PlanContext, table: Table, change: Change) -> list[str]:
    column = table.column(change.column) if change.column else None
    kind = change.kind
    if kind == RENAMED_COLUMN:
        rename = pc.sql("deploy/rename_column", table=table, old=change.live, new=change.declared)
        if column is None or not _clustered_on(table, column):
            return [rename]
        # A clustering-key column cannot be renamed (the rules target's rule, from
        # https://docs.snowflake.com/en/user-guide/tables-clustering-keys): drop the key, rename, set it again.
        return [pc.sql("deploy/drop_clustering_key", table=table), rename, pc.sql("deploy/cluster_by", table=table)]
    if kind == TABLE_COMMENT_CHANGED:
        return [pc.sql("deploy/table_comment", table=table)]
    if kind in _CLUSTERING:
        return [pc.sql("deploy/cluster_by" if table.cluster_by else "deploy/drop_clustering_key", table=table)]
    if kind == CONFIG_CHANGED:
        return _table_properties(pc, table)
    assert column is not None
    if kind == MISSING_COLUMN:
        return _add_column(pc, table, column)
    if kind == COMMENT_CHANGED:
        return [pc.sql("deploy/column_comment", table=table, column=column)]
    if kind == NULLABILITY_CHANGED:
        return [pc.sql("deploy/drop_not_null" if column.nullable else "deploy/set_not_null", table=table,
                       column=column)]
    if kind == TYPE_CHANGED and not change.destructive:
        return [pc.sql("deploy/set_type", table=table, column=column)]
    return _rebuild(pc, table, column)


def _table_properties(pc: PlanContext, table: Table) -> list[str]:
    """Keys, clustering, retention or comments changed: comment, clustering key and retention are set
    again (each statement is idempotent); keys are not altered in place."""
    statements = [pc.sql("deploy/table_comment", table=table)]
    statements.append(pc.sql("deploy/cluster_by" if table.cluster_by else "deploy/drop_clustering_key", table=table))
    if pc.dep.env.data_retention_days is not None:
        statements.append(pc.sql("deploy/set_retention", table=table))
    return statements


def _add_column(pc: PlanContext, table: Table, column: Column) -> list[str]:
    if not column.function_default:
        return [pc.sql("deploy/add_column", table=table, column=column)]
    # Snowflake fails ALTER TABLE ... ADD COLUMN ... DEFAULT <function> (002263): add, backfill, then NOT NULL.
    # The default for new rows stays missing; the next diff reports it (default_changed, refused).
    statements = [pc.sql("deploy/add_column_for_backfill", table=table, column=column),
                  pc.sql("deploy/backfill_column", table=table, column=column)]
    if not column.nullable:
        statements.append(pc.sql("deploy/set_not_null", table=table, column=column))
    return statements


def _clustered_on(table: Table, column: Column) -> bool:
    return any(k.column == column.name for k in table.cluster_by)


def _rebuild(pc: PlanContext, table: Table, column: Column) -> list[str]:
    """Replace a column by a new one of the declared type and default, values cast across.
    Snowflake cannot change type family, scale or default in place. Starts by dropping the scratch
    column a previous, failed rebuild may have left, so a rerun converges. A clustering-key column
    cannot be dropped or renamed (https://docs.snowflake.com/en/user-guide/tables-clustering-keys):
    the key is dropped first and restored last."""
    temp = column.name + REBUILD_SUFFIX
    clustered = _clustered_on(table, column)
    statements = [pc.sql("deploy/drop_clustering_key", table=table)] if clustered else []
    statements += [
        pc.sql("deploy/drop_column", table=table, column=temp.upper()),
        pc.sql("deploy/add_rebuild_column", table=table, column=column, target=temp),
        pc.sql("deploy/copy_column", table=table, column=column, source=column.name, target=temp),
        pc.sql("deploy/drop_column", table=table, column=column.name.upper()),
        pc.sql("deploy/rename_column", table=table, old=temp, new=column.name),
    ]
    if not column.nullable:
        statements.append(pc.sql("deploy/set_not_null", table=table, column=column))
    if column.comment:
        statements.append(pc.sql("deploy/column_comment", table=table, column=column))
    if clustered:
        statements.append(pc.sql("deploy/cluster_by", table=table))
    return statements




# --------------------------------------------------------------------------- live defaults



def default_digest(text: str | None) -> str | None:
    """Hash of a default's text, as declared or as the backend reported it (history rows of kind column)."""
    return None if text is None else hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


_CAST_RE = re.compile(r"^CAST\((.*) AS [A-Z_]+(?:\(\d+(?:,\s*\d+)?\))?\)$", re.S)


_SYSDATE_FORMS = ("CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP())", "TIMEZONE('UTC', CURRENT_TIMESTAMP)")


def normalise_default(text: str | None) -> str | None:
    """CURRENT_TIMESTAMP() and CURRENT_TIMESTAMP, TRUE and true, '0' casts: one spelling each.

    A fallback only: deploy records the backend's own text of every function default right after it
    ran (history rows of kind column), and diff compares against that first. Snowflake writes casts
    out (CAST(CURRENT_TIMESTAMP() AS TIMESTAMP_NTZ(9))) and stores SYSDATE() as a UTC conversion; those
    spellings are unwrapped here so a target deployed before that record existed reads no false drift."""
    if text is None:
        return None
    value = text.strip()
    if value.startswith("'"):
        return value
    value = value.upper()
    while (m := _CAST_RE.match(value)) is not None:
        value = m.group(1).strip()
    value = value.replace("CAST(CURRENT_TIMESTAMP() AS TIMESTAMP_TZ(9))", "CURRENT_TIMESTAMP()")
    if value in _SYSDATE_FORMS:
        return "SYSDATE"
    value = re.sub(r"::[A-Z_]+(\(\d+(,\d+)?\))?$", "", value)
    return re.sub(r"\(\)$", "", value)






# The in-place changes after which a column holds its declared default (added, rebuilt or retyped).
_SETS_DEFAULT = (MISSING_COLUMN, DEFAULT_CHANGED, TYPE_CHANGED)
