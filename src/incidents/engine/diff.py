"""Declared vs live: a pure function from (DesiredState, LiveState) to a list of typed Changes, each
kind's changes in registry order (the order reports list them)."""

from __future__ import annotations

from incidents.kinds import REGISTRY
from incidents.kinds.base import Backend, Capabilities, Change, ChangeKind, DesiredState, DiffContext, LiveState


def diff(desired: DesiredState, live: LiveState, target: Capabilities | Backend | str) -> list[Change]:
    """Every difference, in report order. `target`: the target's Capabilities (or its backend's name)."""
    dc = DiffContext(desired, live, Capabilities.of(target))
    return [change for kind in REGISTRY for change in kind.changes(dc)]


def change_kinds() -> tuple[ChangeKind, ...]:
    """Every kind of change, in the order a report lists them."""
    return tuple(dict.fromkeys(k for kind in REGISTRY for k in kind.change_kinds))
