"""Changes -> ordered steps of statements. Pure: renders templates, runs nothing.

Order: database and schema, the history table, new tables (parents first), in-place column changes,
reference rows, views (dependencies first), then destructive drops last. A destructive change is
planned but refused unless the user passed --allow-destructive.

One small planner per object kind reads a PlanContext and returns its steps; `plan` only puts
them in that order.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from incidents.diff import REBUILD_SUFFIX, Change
from incidents.introspect import LiveState
from incidents.kinds import Action, ChangeKind, ObjectKind
from incidents.models import Column, Project, Table
from incidents.render import HISTORY_TABLE, DesiredState, Rendered, context
from incidents.sql import identifiers
from incidents.sql.templating import render_template


def live_ident(name: str) -> str:
    """An identifier exactly as the backend reported it (a stray object may be lower case, reserved
    or contain any character): bare when that means the same name, else double-quoted."""
    if re.fullmatch(r"[A-Z_][A-Z0-9_]{0,254}", name) and name not in identifiers.SNOWFLAKE_RESERVED:
        return identifiers.quote(name)
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Step:
    object_kind: ObjectKind
    object: str
    action: Action | ChangeKind  # a refused column change is named by its change kind
    statements: tuple[str, ...]
    destructive: bool = False
    refused: str | None = None
    checksum: str | None = None
    changes: tuple[Change, ...] = field(default=(), compare=False)
    # A bookkeeping step: (kind, name, checksum) of the views and columns whose live text deploy records.
    records: tuple[tuple[str, str, str | None], ...] = field(default=(), compare=False)

    @property
    def runs(self) -> bool:
        return self.refused is None


@dataclass(frozen=True)
class PlanContext:
    """What every planner reads: declared and live state, the changes, and whether the user allowed
    destructive ones."""

    project: Project
    desired: DesiredState
    live: LiveState
    changes: tuple[Change, ...]
    allow_destructive: bool = False

    def sql(self, template: str, **extra: Any) -> str:
        env = self.desired.env
        ctx = context(self.project, env, live_ident=live_ident,
                      fq_live=lambda name: f"{identifiers.qualify(env.database, env.schema)}.{live_ident(name)}")
        return render_template(self.project.templates_dir, f"{template}.sql.j2", **ctx, **extra).strip()

    def of_kind(self, kind: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def names(self, *kinds: ChangeKind) -> set[str]:
        return {c.object for c in self.changes if c.kind in kinds}

    def table(self, name: str) -> tuple[Table, Rendered]:
        return {t.name: (t, r) for t, r in self.desired.tables}[name]

    def refusal(self, change: Change) -> str | None:
        """Why a change must not run now, or None."""
        if (change.kind == ChangeKind.MISSING_COLUMN and change.destructive) or change.blocked:
            return change.detail  # impossible on Snowflake: --allow-destructive would not help
        if change.destructive and not self.allow_destructive:
            return f"{change.detail}; rerun with --allow-destructive to apply it"
        return None


def plan(project: Project, desired: DesiredState, live: LiveState, changes: list[Change],
         *, allow_destructive: bool = False) -> list[Step]:
    pc = PlanContext(project, desired, live, tuple(changes), allow_destructive)
    strays = _stray_drops(pc)
    claims = _claims(pc, strays)
    tables = [_in_place_plan(pc, name, table_changes) for name, table_changes in _in_place_changes(pc).items()]
    access, revokes = _access_steps(pc)
    return [
        *_container_steps(pc),
        *_history_table_steps(pc),
        *_table_create_steps(pc, claims),
        *(step for t in tables for step in t.now),
        *_reference_data_steps(pc),
        *_view_steps(pc, claims),
        *access,
        # The destructive tail: column drops, then stray views before stray tables (a view may select from one).
        *(step for t in tables for step in t.drops),
        *_unclaimed(strays, claims, ObjectKind.VIEW),
        *_unclaimed(strays, claims, ObjectKind.TABLE),
        *revokes,
        *(step for t in tables for step in t.records),
        *_unfinished_bookkeeping(pc),
    ]


def _unfinished_bookkeeping(pc: PlanContext) -> list[Step]:
    """After a deploy that was cut off before its end: record the text of the views and defaults it
    left without one, so a view replaced by hand later is still seen (and `history` shows a deploy
    that finished). Only objects that are as declared now; drift stays drift."""
    if not pc.live.unfinished:
        return []
    changed = {c.object.upper() for c in pc.changes if c.object_kind == ObjectKind.VIEW}
    drifting = {(c.object, c.column) for c in pc.changes if c.kind == ChangeKind.DEFAULT_CHANGED}
    views = [("view", v.name, r.checksum) for v, r in pc.desired.views if v.name.upper() not in changed
             and (entry := pc.live.recorded(ObjectKind.VIEW, v.name)) is not None and entry.fingerprint is None]
    columns = [("column", f"{t.name}.{c.name}", None) for t, _ in pc.desired.tables for c in t.columns
               if c.default is not None and (t.name, c.name) not in drifting and t.name.upper() in pc.live.tables
               and pc.live.recorded(ObjectKind.COLUMN, f"{t.name}.{c.name}") is None]
    env = pc.desired.env
    return [Step(ObjectKind.DEPLOY, f"{env.database}.{env.schema}", Action.RECORD, (),
                 records=tuple(views + columns))]


def _access_steps(pc: PlanContext) -> tuple[list[Step], list[Step]]:
    """Roles, policies and tasks, then grants, after the views they name; revokes go in the tail."""
    if pc.desired.access is None or not pc.live.access_supported:
        return [], []
    from incidents.access.changes import access_steps

    return access_steps(pc.project, pc.desired.env, pc.desired.access, pc.live.access, list(pc.changes),
                        pc.allow_destructive)


# --------------------------------------------------------------------------- database, schema, history table

def _container_steps(pc: PlanContext) -> list[Step]:
    desired, steps = pc.desired, []
    if pc.of_kind(ChangeKind.MISSING_DATABASE):
        steps.append(Step(ObjectKind.DATABASE, desired.env.database, Action.CREATE, (desired.database.sql.strip(),),
                          checksum=desired.database.checksum))
    if pc.of_kind(ChangeKind.MISSING_SCHEMA):
        steps.append(Step(ObjectKind.SCHEMA, desired.env.schema, Action.CREATE, (desired.schema.sql.strip(),),
                          checksum=desired.schema.checksum))
    return steps


def _history_table_steps(pc: PlanContext) -> list[Step]:
    if HISTORY_TABLE not in pc.names(ChangeKind.MISSING_TABLE):
        return []
    rendered = pc.desired.history_table
    return [Step(ObjectKind.TABLE, HISTORY_TABLE, Action.CREATE, (rendered.sql.strip(),), checksum=rendered.checksum)]


# --------------------------------------------------------------------------- stray objects in the way

def _stray_drops(pc: PlanContext) -> dict[str, Step]:
    """The drop of every undeclared view and table, by upper-case name (refused unless allowed)."""
    strays = {}
    for change in pc.of_kind(ChangeKind.UNEXPECTED_VIEW) + pc.of_kind(ChangeKind.UNEXPECTED_TABLE):
        reason = pc.refusal(change)
        statements = () if reason else (pc.sql(f"deploy/drop_{change.object_kind}", name=change.object),)
        strays[change.object.upper()] = Step(change.object_kind, change.object, Action.DROP, statements,
                                             destructive=True, refused=reason, changes=(change,))
    return strays


def _new_objects(pc: PlanContext) -> list[tuple[ObjectKind, str]]:
    """The tables and views plan creates (or replaces), in the order it creates them."""
    tables, views = pc.names(ChangeKind.MISSING_TABLE), pc.names(ChangeKind.MISSING_VIEW, ChangeKind.CHANGED_VIEW)
    return ([(ObjectKind.TABLE, t.name) for t, _ in pc.desired.tables if t.name in tables]
            + [(ObjectKind.VIEW, v.name) for v, _ in pc.desired.views if v.name in views])


def _claims(pc: PlanContext, strays: dict[str, Step]) -> dict[tuple[ObjectKind, str], Step]:
    """The stray each new object must drop first: one of the other kind holding its name. CREATE
    TABLE IF NOT EXISTS would silently do nothing (fakesnow) and CREATE OR REPLACE VIEW fails.
    The first object to want a stray claims it, so it is dropped once."""
    claims: dict[tuple[ObjectKind, str], Step] = {}
    for kind, name in _new_objects(pc):
        stray = strays.get(name.upper())
        if stray is not None and stray.object_kind != kind and stray not in claims.values():
            claims[(kind, name)] = stray
    return claims


def _room(claims: dict[tuple[ObjectKind, str], Step], kind: ObjectKind, name: str) -> tuple[list[Step], str | None]:
    """The drop that clears the name for a new object, and why the create is refused if that drop is."""
    stray = claims.get((kind, name))
    if stray is None:
        return [], None
    why = (f"a {stray.object_kind} named {stray.object} is in the way; rerun with --allow-destructive "
           "to drop it") if stray.refused else None
    return [stray], why


def _unclaimed(strays: dict[str, Step], claims: dict[tuple[ObjectKind, str], Step], kind: ObjectKind) -> list[Step]:
    claimed = list(claims.values())
    return [s for s in strays.values() if s.object_kind == kind and s not in claimed]


# --------------------------------------------------------------------------- new tables and views

def _table_create_steps(pc: PlanContext, claims: dict[tuple[ObjectKind, str], Step]) -> list[Step]:
    missing = pc.names(ChangeKind.MISSING_TABLE)
    return [step for table, rendered in pc.desired.tables if table.name in missing
            for step in _create_table(claims, table, rendered)]


def _create_table(claims: dict[tuple[ObjectKind, str], Step], table: Table, rendered: Rendered) -> list[Step]:
    room, blocked = _room(claims, ObjectKind.TABLE, table.name)
    return [*room, Step(ObjectKind.TABLE, table.name, Action.CREATE, () if blocked else (rendered.sql.strip(),),
                        checksum=rendered.checksum, refused=blocked)]


def _view_steps(pc: PlanContext, claims: dict[tuple[ObjectKind, str], Step]) -> list[Step]:
    wanted = {c.object: c for c in pc.changes if c.kind in (ChangeKind.MISSING_VIEW, ChangeKind.CHANGED_VIEW)}
    return [step for view, rendered in pc.desired.views if view.name in wanted
            for step in _create_view(claims, wanted[view.name], rendered)]


def _create_view(claims: dict[tuple[ObjectKind, str], Step], change: Change, rendered: Rendered) -> list[Step]:
    room, blocked = _room(claims, ObjectKind.VIEW, change.object)
    action = Action.CREATE if change.kind == ChangeKind.MISSING_VIEW else Action.REPLACE
    return [*room, Step(ObjectKind.VIEW, change.object, action, () if blocked else (rendered.sql.strip(),),
                        checksum=rendered.checksum, refused=blocked, changes=(change,))]


# --------------------------------------------------------------------------- reference rows

def _reference_data_steps(pc: PlanContext) -> list[Step]:
    """After the table is created, when the declared rows changed, or when they were never merged."""
    missing_tables = pc.names(ChangeKind.MISSING_TABLE)
    changed = {c.object for c in pc.of_kind(ChangeKind.CONFIG_CHANGED) if c.object_kind == ObjectKind.REFERENCE_DATA}
    live = pc.live
    return [Step(ObjectKind.REFERENCE_DATA, r.name, Action.MERGE, (r.sql.strip(),), checksum=r.checksum)
            for r in pc.desired.reference_data
            if r.name in missing_tables or r.name in changed
            or (live.recorded(ObjectKind.REFERENCE_DATA, r.name) is None and r.name.upper() in live.tables)]


# --------------------------------------------------------------------------- in-place table changes

@dataclass(frozen=True)
class _TablePlan:
    """One table's in-place changes: `now` runs with the other in-place changes, `drops` in the
    destructive tail, `records` last of all (after the drops)."""

    now: tuple[Step, ...] = ()
    drops: tuple[Step, ...] = ()
    records: tuple[Step, ...] = ()


_ORDER = {ChangeKind.RENAMED_COLUMN: 0, ChangeKind.MISSING_COLUMN: 1, ChangeKind.TYPE_CHANGED: 2,
          ChangeKind.DEFAULT_CHANGED: 3, ChangeKind.NULLABILITY_CHANGED: 4, ChangeKind.COMMENT_CHANGED: 5,
          ChangeKind.TABLE_COMMENT_CHANGED: 6, ChangeKind.CONFIG_CHANGED: 7, ChangeKind.UNEXPECTED_COLUMN: 8}


def _in_place_changes(pc: PlanContext) -> dict[str, list[Change]]:
    """Changes applied to an existing table, per table, tables in the order diff reported them."""
    per_table: dict[str, list[Change]] = defaultdict(list)
    for change in pc.changes:
        if change.object_kind == ObjectKind.COLUMN or change.kind == ChangeKind.TABLE_COMMENT_CHANGED or (
                change.kind == ChangeKind.CONFIG_CHANGED and change.object_kind == ObjectKind.TABLE):
            per_table[change.object].append(change)
    return per_table


def _in_place_plan(pc: PlanContext, name: str, table_changes: list[Change]) -> _TablePlan:
    """One ALTER step per table, so its checksum is recorded only when all of its changes ran."""
    table, rendered = pc.table(name)
    judged = [(c, pc.refusal(c)) for c in sorted(table_changes, key=lambda c: _ORDER.get(c.kind, 99))]
    refusals = tuple(_refused_column_step(name, c, reason) for c, reason in judged if reason)
    runnable = [c for c, reason in judged if not reason]
    drops = tuple(_drop_column_step(pc, table, c) for c in runnable if c.kind == ChangeKind.UNEXPECTED_COLUMN)
    statements = tuple(s for c in runnable if c.kind != ChangeKind.UNEXPECTED_COLUMN
                       for s in _column_statements(pc, table, c))
    in_place = tuple(c for c in table_changes if c.kind != ChangeKind.UNEXPECTED_COLUMN)
    if statements:
        # `changes`: what this step applies (deploy records the defaults it set), not the refused ones.
        applied = tuple(c for c in runnable if c.kind != ChangeKind.UNEXPECTED_COLUMN)
        alter = Step(ObjectKind.TABLE, name, Action.ALTER, statements, destructive=any(c.destructive for c in in_place),
                     checksum=None if refusals else rendered.checksum, changes=applied)
        return _TablePlan(now=(*refusals, alter), drops=drops)
    if not refusals and len(in_place) < len(table_changes):
        # Only column drops: record the new checksum after them, or the next diff would call the
        # (already applied) removal of a column from the config "config_changed".
        record = Step(ObjectKind.TABLE, name, Action.RECORD, (), checksum=rendered.checksum,
                      changes=tuple(table_changes))
        return _TablePlan(drops=drops, records=(record,))
    return _TablePlan(now=refusals, drops=drops)


def _refused_column_step(table: str, change: Change, reason: str) -> Step:
    return Step(ObjectKind.COLUMN, f"{table}.{change.column}", change.kind, (), destructive=True, refused=reason,
                changes=(change,))


def _drop_column_step(pc: PlanContext, table: Table, change: Change) -> Step:
    return Step(ObjectKind.COLUMN, f"{table.name}.{change.column}", Action.DROP,
                (pc.sql("deploy/drop_column", table=table, column=change.column),),
                destructive=change.destructive, changes=(change,))


def _column_statements(pc: PlanContext, table: Table, change: Change) -> list[str]:
    column = table.column(change.column) if change.column else None
    kind = change.kind
    if kind == ChangeKind.RENAMED_COLUMN:
        return [pc.sql("deploy/rename_column", table=table, old=change.live, new=change.declared)]
    if kind == ChangeKind.TABLE_COMMENT_CHANGED:
        return [pc.sql("deploy/table_comment", table=table)]
    if kind == ChangeKind.CONFIG_CHANGED:
        return _table_properties(pc, table)
    assert column is not None
    if kind == ChangeKind.MISSING_COLUMN:
        return _add_column(pc, table, column)
    if kind == ChangeKind.COMMENT_CHANGED:
        return [pc.sql("deploy/column_comment", table=table, column=column)]
    if kind == ChangeKind.NULLABILITY_CHANGED:
        return [pc.sql("deploy/drop_not_null" if column.nullable else "deploy/set_not_null", table=table,
                       column=column)]
    if kind == ChangeKind.TYPE_CHANGED and not change.destructive:
        return [pc.sql("deploy/set_type", table=table, column=column)]
    return _rebuild(pc, table, column)


def _table_properties(pc: PlanContext, table: Table) -> list[str]:
    """Keys, clustering, retention or comments changed: comment, clustering key and retention are set
    again (each statement is idempotent); keys are not altered in place."""
    statements = [pc.sql("deploy/table_comment", table=table)]
    statements.append(pc.sql("deploy/cluster_by" if table.cluster_by else "deploy/drop_clustering_key", table=table))
    if pc.desired.env.data_retention_days is not None:
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
