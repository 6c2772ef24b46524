"""Tables, views and dynamic tables share one namespace in a schema: the object kinds and changes they
speak, and the drops that clear a name. An undeclared (stray) object is dropped only with
--allow-destructive (unless its change says dropping it loses nothing the config did not ask for: a
view of ours that config now materializes, or the reverse); a new object whose name a stray of another
kind holds drops that stray first, in the same unit (CREATE TABLE IF NOT EXISTS would silently do
nothing on fakesnow, and CREATE OR REPLACE VIEW fails on a table)."""

from __future__ import annotations

from dataclasses import replace

from incidents.kinds.base import DROP, Change, ChangeKind, ObjectKind, Phase, PlanContext, Step

TABLE, VIEW, COLUMN = ObjectKind("table"), ObjectKind("view"), ObjectKind("column")
MISSING_TABLE, UNEXPECTED_TABLE = ChangeKind("missing_table"), ChangeKind("unexpected_table")
MISSING_VIEW, CHANGED_VIEW, UNEXPECTED_VIEW = (ChangeKind("missing_view"), ChangeKind("changed_view"),
                                               ChangeKind("unexpected_view"))
DYNAMIC_TABLE = ObjectKind("dynamic_table")  # a materialized view on Snowflake (kinds.dynamic_table)
MISSING_DYNAMIC_TABLE, CHANGED_DYNAMIC_TABLE, UNEXPECTED_DYNAMIC_TABLE = (
    ChangeKind("missing_dynamic_table"), ChangeKind("changed_dynamic_table"), ChangeKind("unexpected_dynamic_table"))
_DROP_PHASE = {TABLE: Phase.DROP_TABLE, VIEW: Phase.DROP_VIEW, DYNAMIC_TABLE: Phase.DROP_VIEW}
_STRAYS = (UNEXPECTED_VIEW, UNEXPECTED_TABLE, UNEXPECTED_DYNAMIC_TABLE)

Claims = dict[tuple[ObjectKind, str], Step]


def stray_drops(pc: PlanContext) -> dict[str, Step]:
    """The drop of every undeclared view, table and dynamic table, by upper-case name (refused unless allowed)."""
    strays = {}
    for change in (c for kind in _STRAYS for c in pc.of_kind(kind)):
        reason = pc.refusal(change)
        statements = () if reason else (pc.sql(f"deploy/drop_{change.object_kind}", name=change.object),)
        strays[change.object.upper()] = Step(change.object_kind, change.object, DROP, statements,
                                             destructive=change.destructive, refused=reason, changes=(change,),
                                             phase=_DROP_PHASE[change.object_kind])
    return strays


def dropped(pc: PlanContext) -> set[str]:
    """Upper-case names of the strays this plan drops (their grants go with them)."""
    return {c.object.upper() for kind in _STRAYS for c in pc.of_kind(kind) if pc.refusal(c) is None}


def _new_objects(pc: PlanContext) -> list[tuple[ObjectKind, str]]:
    """The tables, views and dynamic tables the plan creates (or replaces), in the order it creates them."""
    tables, views = pc.names(MISSING_TABLE), pc.names(MISSING_VIEW, CHANGED_VIEW)
    dynamic = pc.names(MISSING_DYNAMIC_TABLE, CHANGED_DYNAMIC_TABLE)
    return ([(TABLE, t.name) for t in pc.desired.of(TABLE) if t.name in tables]
            + [(VIEW, v.name) for v in pc.desired.of(VIEW) if v.name in views]
            + [(DYNAMIC_TABLE, d.name) for d in pc.desired.of(DYNAMIC_TABLE) if d.name in dynamic])


def claims(pc: PlanContext) -> tuple[dict[str, Step], Claims]:
    """Every stray drop, and the one each new object must run first: a stray of the other kind holding
    its name. The first object to want a stray claims it, so it is dropped once."""
    strays = stray_drops(pc)
    claimed: Claims = {}
    for kind, name in _new_objects(pc):
        stray = strays.get(name.upper())
        if stray is not None and stray.object_kind != kind and stray not in claimed.values():
            claimed[(kind, name)] = stray
    return strays, claimed


def room(claimed: Claims, kind: ObjectKind, name: str, phase: Phase) -> tuple[list[Step], str | None]:
    """The drop that clears the name for a new object (run in the new object's phase), and why the
    create is refused if that drop is."""
    stray = claimed.get((kind, name))
    if stray is None:
        return [], None
    why = (f"a {stray.object_kind} named {stray.object} is in the way; rerun with --allow-destructive "
           "to drop it") if stray.refused else None
    return [replace(stray, phase=phase)], why


def unclaimed(pc: PlanContext, kind: ObjectKind) -> list[Step]:
    """The drops of this kind's strays that no new object needed: the destructive tail."""
    strays, claimed = claims(pc)
    taken = list(claimed.values())
    return [s for s in strays.values() if s.object_kind == kind and s not in taken]


def stray(kind: ObjectKind, name: str, change_kind: ChangeKind, detail: str, live: str | None = None) -> Change:
    return Change(change_kind, kind, name, live=live, destructive=True, detail=detail)
