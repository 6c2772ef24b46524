"""Hand-built live states for the unit tests of diff() and plan(): what a complete deploy of a
DesiredState leaves, without a database. A helper module, not a test module."""

from __future__ import annotations

from incidents.introspect import HistoryEntry, LiveColumn, LiveState, LiveTable, fingerprint, normalise_default
from incidents.models import HISTORY_TABLE, LOCK_TABLE, Column
from incidents.render import DesiredState


def live_column(column: Column) -> LiveColumn:
    return LiveColumn(column.name.upper(), column.type, column.nullable, normalise_default(column.default),
                      column.comment or None)


def in_sync(desired: DesiredState) -> LiveState:
    """What a complete deploy of `desired` leaves: every object, and a history row for each (a fresh
    copy every call, so a test may change it)."""
    tables = {t.name.upper(): LiveTable(t.name.upper(), {c.name.upper(): live_column(c) for c in t.columns}, 0,
                                        t.comment or None) for t, _ in desired.tables}
    for own in (HISTORY_TABLE, LOCK_TABLE):
        tables[own.upper()] = LiveTable(own.upper(), {}, 0, None)
    history = {("table", t.name.upper()): HistoryEntry(r.checksum, None) for t, r in desired.tables}
    history |= {("reference_data", r.name.upper()): HistoryEntry(r.checksum, None) for r in desired.reference_data}
    history |= {("view", v.name.upper()): HistoryEntry(r.checksum, fingerprint(r.sql)) for v, r in desired.views}
    return LiveState(True, True, tables, {v.name.upper(): r.sql for v, r in desired.views}, history)
