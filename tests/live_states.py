"""Hand-built live states for the unit tests of diff() and plan(): what a complete deploy of a
DesiredState leaves, without a database. A helper module, not a test module."""

from __future__ import annotations

import dataclasses

from incidents.kinds.base import Desired, DesiredState, HistoryEntry, LiveColumn, LiveState, LiveTable
from incidents.kinds.table import normalise_default
from incidents.kinds.view import fingerprint
from incidents.project.models import HISTORY_TABLE, LOCK_TABLE, Column, Table, View


def tables(desired: DesiredState) -> list[tuple[Table, Desired]]:
    """(declared table, its desired object) in declaration order."""
    return [(o.model, o) for o in desired.of("table")]


def views(desired: DesiredState) -> list[tuple[View, Desired]]:
    return [(o.model, o) for o in desired.of("view")]


def with_tables(desired: DesiredState, pairs: tuple[tuple[Table, Desired], ...]) -> DesiredState:
    """`desired` with its tables' models replaced (a column renamed or added in config)."""
    objects = dict(desired.objects)
    objects["table"] = tuple(dataclasses.replace(obj, model=table) for table, obj in pairs)
    return dataclasses.replace(desired, objects=objects)


def live_column(column: Column) -> LiveColumn:
    return LiveColumn(column.name.upper(), column.type, column.nullable, normalise_default(column.default),
                      column.comment or None)


def in_sync(desired: DesiredState) -> LiveState:
    """What a complete deploy of `desired` leaves: every object, and a history row for each (a fresh
    copy every call, so a test may change it)."""
    live_tables = {t.name.upper(): LiveTable(t.name.upper(), {c.name.upper(): live_column(c) for c in t.columns}, 0,
                                             t.comment or None) for t, _ in tables(desired)}
    for own in (HISTORY_TABLE, LOCK_TABLE):
        live_tables[own.upper()] = LiveTable(own.upper(), {}, 0, None)
    history = {("table", t.name.upper()): HistoryEntry(r.checksum, None) for t, r in tables(desired)}
    history |= {("reference_data", r.name.upper()): HistoryEntry(r.checksum, None)
                for r in desired.of("reference_data")}
    history |= {("view", v.name.upper()): HistoryEntry(r.checksum, fingerprint(r.text)) for v, r in views(desired)}
    # Materialized views: dynamic tables (what the TABLES query reports as IS_DYNAMIC, or the history on fakesnow).
    history |= {("dynamic_table", d.name.upper()): HistoryEntry(d.checksum, None) for d in desired.of("dynamic_table")}
    return LiveState(True, True, live_tables, {v.name.upper(): r.text for v, r in views(desired)}, history,
                     extra={"dynamic_table": {d.name.upper() for d in desired.of("dynamic_table")}})
