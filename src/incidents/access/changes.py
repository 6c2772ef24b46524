"""Access declared vs live -> Changes, and Changes -> deploy steps. Pure.

Roles and grants are compared with what SHOW GRANTS reported (access.live); policies, tags, secure
views, the stream, procedures and tasks through the checksum the last deploy recorded, like views.
A grant nobody declared is revoked only with --allow-destructive; a role is never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from incidents.access.desired import AccessObject, DesiredAccess, Grant, grant_order
from incidents.access.live import LiveAccess
from incidents.diff import Change
from incidents.kinds import Action, ChangeKind, ObjectKind
from incidents.models import Environment, Project

if TYPE_CHECKING:
    from incidents.introspect import HistoryEntry
    from incidents.plan import Step


def access_changes(desired: DesiredAccess, live: LiveAccess | None, live_views: dict[str, str | None],
                   recorded: Callable[[ObjectKind, str], HistoryEntry | None]) -> list[Change]:
    """`live` None: the target was not read (nothing exists yet): everything is missing."""
    live = live or LiveAccess()
    changes = [Change(ChangeKind.MISSING_ROLE, ObjectKind.ROLE, role.name.upper(), declared=role.kind,
                      detail="role does not exist") for role in desired.roles if role.name.upper() not in live.roles]
    changes += [_object_change(obj, live_views, recorded) for obj in desired.objects]
    changes += [Change(ChangeKind.MISSING_GRANT, ObjectKind.GRANT, g.role, declared=str(g), detail="grant is missing")
                for g in sorted(desired.grants - live.grants, key=grant_order)]
    changes += [Change(ChangeKind.UNEXPECTED_GRANT, ObjectKind.GRANT, g.role, live=str(g), destructive=True,
                       detail="grant is not declared in access config; deploy revokes it with --allow-destructive")
                for g in sorted(live.grants - desired.grants, key=grant_order)]
    return [c for c in changes if c is not None]


def _object_change(obj: AccessObject, live_views: dict[str, str | None],
                   recorded: Callable[[ObjectKind, str], HistoryEntry | None]) -> Change | None:
    entry = recorded(obj.kind, obj.name)
    gone = obj.kind == ObjectKind.SECURE_VIEW and obj.name.upper() not in live_views
    if entry is None or gone:
        return Change(ChangeKind.MISSING_ACCESS_OBJECT, obj.kind, obj.name, detail=f"{obj.kind} was never deployed"
                      if not gone else "secure view does not exist")
    if entry.checksum != obj.checksum:
        return Change(ChangeKind.CHANGED_ACCESS_OBJECT, obj.kind, obj.name,
                      detail=f"{obj.kind} definition changed in config/templates since the last deploy")
    return None


def access_steps(project: Project, env: Environment, desired: DesiredAccess, live: LiveAccess | None,
                 changes: list[Change], allow_destructive: bool) -> tuple[list[Step], list[Step]]:
    """(steps that run after the views, revokes for the destructive tail)."""
    from incidents.plan import Step

    missing_roles = {c.object for c in changes if c.kind == ChangeKind.MISSING_ROLE}
    objects = {(c.object_kind, c.object): c for c in changes
               if c.kind in (ChangeKind.MISSING_ACCESS_OBJECT, ChangeKind.CHANGED_ACCESS_OBJECT)}
    wanted = {c.declared for c in changes if c.kind == ChangeKind.MISSING_GRANT}
    unwanted = {c.live for c in changes if c.kind == ChangeKind.UNEXPECTED_GRANT}
    steps = [Step(ObjectKind.ROLE, role.name.upper(), Action.CREATE, (desired.role_sql(project, env, role),))
             for role in desired.roles if role.name.upper() in missing_roles]
    for obj in desired.objects:
        change = objects.get((obj.kind, obj.name))
        if change is not None:
            action = Action.CREATE if change.kind == ChangeKind.MISSING_ACCESS_OBJECT else Action.REPLACE
            steps.append(Step(obj.kind, obj.name, action, obj.statements, checksum=obj.checksum, changes=(change,)))
    steps += _per_role(project, env, desired, [g for g in sorted(desired.grants, key=grant_order) if str(g) in wanted],
                       Action.GRANT)
    revokes = _per_role(project, env, desired, [g for g in sorted((live or LiveAccess()).grants, key=grant_order)
                                                if str(g) in unwanted], Action.REVOKE)
    reason = None if allow_destructive else "grants not declared in access config; rerun with --allow-destructive " \
                                            "to revoke them"
    revokes = [Step(s.object_kind, s.object, s.action, () if reason else s.statements, destructive=True,
                    refused=reason) for s in revokes]
    return steps, revokes


def _per_role(project: Project, env: Environment, desired: DesiredAccess, grants: list[Grant],
              action: Action) -> list[Step]:
    from incidents.plan import Step

    by_role: dict[str, list[Grant]] = {}
    for grant in grants:
        by_role.setdefault(grant.role, []).append(grant)
    return [Step(ObjectKind.GRANT, role, action,
                 tuple(desired.grant_sql(project, env, g, revoke=action == Action.REVOKE) for g in role_grants))
            for role, role_grants in by_role.items()]
