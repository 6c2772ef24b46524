"""Dependency waves of a deploy plan, for applying independent steps at the same time.

The plan's order stays the contract: its phases (tables, in-place changes, reference rows, views,
grants) run one after another, and within a phase a step waits only for what it depends on — tables
for the tables their foreign keys reference, reference rows likewise, views for the views they select
from; each role's grants depend on nothing but the phases before. Every other step (database,
schema, history table, roles and policies, the destructive tail) is a wave of its own. A drop that
clears a name for a new object travels with that create, in order, as one unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from incidents.kinds import Action, ObjectKind
from incidents.models import Environment, Project
from incidents.plan import Step
from incidents.sql import identifiers

Unit = tuple[Step, ...]  # steps that run in this order on one session
Wave = list[Unit]  # units that may run at the same time


@dataclass(frozen=True)
class _Placed:
    unit: Unit
    phase: str | None  # None: a wave of its own
    level: int = 0


def waves(steps: Sequence[Step], project: Project, env: Environment) -> list[Wave]:
    """The plan cut into waves; concatenating them gives back the plan's steps, in the plan's order
    within each phase and level."""
    placed = _place(_units(steps), project, env)
    result: list[Wave] = []
    i = 0
    while i < len(placed):
        if placed[i].phase is None:
            result.append([placed[i].unit])
            i += 1
            continue
        j = i
        while j < len(placed) and placed[j].phase == placed[i].phase:
            j += 1
        phase = placed[i:j]
        for level in sorted({p.level for p in phase}):
            result.append([p.unit for p in phase if p.level == level])
        i = j
    return result


def _units(steps: Sequence[Step]) -> list[Unit]:
    """Steps grouped into units: a stray drop followed by the create that needed its name is one."""
    units: list[Unit] = []
    i = 0
    while i < len(steps):
        step = steps[i]
        following = steps[i + 1] if i + 1 < len(steps) else None
        if (step.action == Action.DROP and following is not None and following.object_kind != step.object_kind
                and following.object.upper() == step.object.upper()
                and following.action in (Action.CREATE, Action.REPLACE)):
            units.append((step, following))
            i += 2
        else:
            units.append((step,))
            i += 1
    return units


def _phase(unit: Unit) -> str | None:
    step = unit[-1]
    if step.object_kind == ObjectKind.TABLE and step.action == Action.CREATE and not _is_bookkeeping(step):
        return "tables"
    if step.object_kind == ObjectKind.TABLE and step.action == Action.ALTER:
        return "alters"
    if step.object_kind == ObjectKind.REFERENCE_DATA:
        return "reference"
    if step.object_kind == ObjectKind.VIEW and step.action in (Action.CREATE, Action.REPLACE):
        return "views"
    if step.object_kind == ObjectKind.GRANT and step.action == Action.GRANT:
        return "grants"  # one step per role: the roles' grants go out side by side
    return None


def _is_bookkeeping(step: Step) -> bool:
    from incidents.models import HISTORY_TABLE

    return step.object == HISTORY_TABLE


def _place(units: list[Unit], project: Project, env: Environment) -> list[_Placed]:
    phases = [_phase(u) for u in units]
    names = {phase: {u[-1].object for u, p in zip(units, phases, strict=True) if p == phase}
             for phase in ("tables", "reference", "views")}
    table_level = _levels(names["tables"], lambda name: _parents(project, name))
    reference_level = _levels(names["reference"], lambda name: _parents(project, name))
    view_sql = {u[-1].object: " ".join(u[-1].statements) for u, p in zip(units, phases, strict=True) if p == "views"}
    view_level = _levels(names["views"], lambda name: view_reads(view_sql[name], names["views"] - {name}, env))
    levels = {"tables": table_level, "reference": reference_level, "views": view_level}
    return [_Placed(u, p, levels[p].get(u[-1].object, 0) if p in levels else 0)
            for u, p in zip(units, phases, strict=True)]


def _parents(project: Project, name: str) -> tuple[str, ...]:
    table = project.table(name)
    return table.parents if table is not None else ()


def _levels(names: set[str], depends_on: Callable[[str], Sequence[str]]) -> dict[str, int]:
    """0 for an object depending on none of `names`, else 1 + the highest level it depends on.
    Dependencies outside `names` exist already (or are not ours), so they do not hold a step back."""
    levels: dict[str, int] = {}

    def level(name: str, seen: frozenset[str]) -> int:
        if name not in levels:
            deps = [d for d in depends_on(name) if d in names and d not in seen]
            levels[name] = 1 + max((level(d, seen | {name}) for d in deps), default=-1)
        return levels[name]

    for name in sorted(names):
        level(name, frozenset())
    return levels


def view_reads(sql: str, candidates: set[str], env: Environment) -> tuple[str, ...]:
    """The candidate views whose qualified name the SQL text mentions (as render orders views)."""
    return tuple(sorted(
        name for name in candidates
        if re.search(rf"(?<![\w.]){re.escape(identifiers.qualify(env.database, env.schema, name))}(?!\w)", sql, re.I)
    ))
