"""Changes -> ordered steps of statements. Pure: renders templates, runs nothing.

Each kind plans its own steps and tags each with its phase (database and schema, the history
table, new tables, in-place changes, reference rows, views, roles, access objects, grants, then the
destructive tail: column drops, stray views, stray tables, revokes; then records). The plan is every
kind's steps in phase order, each kind's own order kept within a phase. A destructive change is
planned but refused unless the user passed --allow-destructive.
"""

from __future__ import annotations

from incidents.kinds import REGISTRY
from incidents.kinds.base import DEPLOY, RECORD, Change, DesiredState, LiveState, Phase, PlanContext, Step, by_phase


def plan(desired: DesiredState, live: LiveState, changes: list[Change], *,
         allow_destructive: bool = False) -> list[Step]:
    pc = PlanContext(desired, live, tuple(changes), allow_destructive)
    steps = [step for kind in REGISTRY for step in kind.steps(pc)]
    return by_phase([*steps, *_unfinished_bookkeeping(pc)])


def _unfinished_bookkeeping(pc: PlanContext) -> list[Step]:
    """After a deploy that was cut off before its end: record the live text of what it left without
    one (views, defaults), so a later hand edit is still seen, and `history` shows a deploy that
    finished. Only objects that are as declared now; drift stays drift."""
    if not pc.live.unfinished:
        return []
    records = tuple(record for kind in REGISTRY for record in kind.unrecorded(pc))
    return [Step(DEPLOY, f"{pc.dep.database}.{pc.dep.schema}", RECORD, (), records=records, phase=Phase.FINISH)]
