"""Project + environment -> every desired object, from every registered kind. Pure: renders
templates, runs nothing."""

from __future__ import annotations

from incidents.kinds import REGISTRY
from incidents.kinds.base import DesiredState
from incidents.project.deployment import Deployment


def desired_state(dep: Deployment) -> DesiredState:
    return DesiredState(dep, {kind.name: tuple(kind.desired(dep)) for kind in REGISTRY},
                        frozenset(t.upper() for kind in REGISTRY for t in kind.own_tables))


def creation_statements(dep: Deployment) -> list[str]:
    """Every statement that creates the deployment's objects, kind by kind, without the ones that need
    roles and grants and without deploy's bookkeeping (a test or benchmark building a schema fast)."""
    state = desired_state(dep)
    return [s for kind in REGISTRY if not kind.needs_access_control for obj in state.objects[kind.name]
            if obj.deployed for s in obj.statements]
