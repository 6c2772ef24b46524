"""Dependency waves of a deploy plan, for applying independent steps at the same time.

The plan's order stays the contract: consecutive steps a kind marked `parallel` in one phase run
together, in levels by what each waits for (`Step.after`: a table's parents, the views a view
selects from); every other step is a wave of its own. A drop that clears a name for a new object
travels with that create, in order, as one unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from incidents.kinds.base import CREATE, DROP, REPLACE, Step

Unit = tuple[Step, ...]  # steps that run in this order on one session
Wave = list[Unit]  # units that may run at the same time


def waves(steps: Sequence[Step]) -> list[Wave]:
    """The plan cut into waves; concatenating them gives back the plan's steps, in the plan's order
    within each phase and level."""
    units = _units(steps)
    result: list[Wave] = []
    i = 0
    while i < len(units):
        last = units[i][-1]
        if not last.parallel:
            result.append([units[i]])
            i += 1
            continue
        j = i
        while j < len(units) and units[j][-1].parallel and units[j][-1].phase == last.phase:
            j += 1
        group = units[i:j]
        after = {u[-1].object: u[-1].after for u in group}
        levels = _levels(set(after), after.__getitem__)
        for level in sorted(set(levels.values())):
            result.append([u for u in group if levels[u[-1].object] == level])
        i = j
    return result


def _units(steps: Sequence[Step]) -> list[Unit]:
    """Steps grouped into units: a stray drop followed by the create that needed its name is one."""
    units: list[Unit] = []
    i = 0
    while i < len(steps):
        step = steps[i]
        following = steps[i + 1] if i + 1 < len(steps) else None
        if (step.action == DROP and following is not None and following.object_kind != step.object_kind
                and following.object.upper() == step.object.upper() and following.action in (CREATE, REPLACE)):
            units.append((step, following))
            i += 2
        else:
            units.append((step,))
            i += 1
    return units


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
