"""Offline checks: every statement a deployment renders parses as Snowflake SQL (statements sqlglot
cannot read are checked by their kind against Snowflake's documented syntax), every procedure's
body statement by statement, every object's own checks (a view's documented columns), and every
statement of the committed files. No connection needed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from incidents.engine.desired import desired_state
from incidents.kinds import REGISTRY
from incidents.kinds.base import Desired, DesiredState, Step
from incidents.project.deployment import Deployment
from incidents.sql.parse import parse_statements
from incidents.sql.text import split_statements


def check_statement(statement: str, source: str) -> list[Any]:
    """The statement parsed by sqlglot, or [] when a kind checked it against its own forms."""
    for kind in REGISTRY:
        if kind.check_statement(statement, source):
            return []
    return parse_statements(statement, source)


def validate(dep: Deployment, files: dict[str, str], extra: Iterable[tuple[str, str]] = ()) -> int:
    """Raise ConfigError on the first problem; return how many statements were checked. `files`: the
    committed files as rendered; `extra`: (source, statement) of the features (checks, import, predict),
    checked like the objects' own (a kind's documented form, else sqlglot)."""
    state = desired_state(dep)
    seen: set[str] = set()
    count = 0
    for kind in REGISTRY:
        for obj in state.objects[kind.name]:
            count += _check_object(kind, obj, seen)
    for source, statement in extra:
        check_statement(statement, source)
        count += 1
    for rel, content in files.items():
        if rel.endswith(".sql"):  # only what no object above already checked (the sample data, mainly)
            for statement in split_statements(_without_client_commands(content)):
                if _normal(statement) not in seen:
                    check_statement(statement, rel)
    return count


def _check_object(kind: Any, obj: Desired, seen: set[str]) -> int:
    source = f"{obj.kind} {obj.name}"
    parsed: list[Any] = []
    for statement in obj.statements:
        parsed += check_statement(statement, source)
        seen.add(_normal(statement))
    kind.check_object(obj, parsed)
    for statement in obj.body:
        check_statement(statement, f"procedure {obj.name}")
    return len(obj.statements) + len(obj.body)


def check_steps(desired: DesiredState, steps: Sequence[Step]) -> None:
    """What deploy is about to send passes the same checks as `validate`, before anything is sent.
    Only the steps that run: a deploy with nothing to do parses nothing."""
    objects = {(o.kind, o.name.upper()): (kind, o) for kind in REGISTRY for o in desired.objects[kind.name]}
    for step in steps:
        if not step.runs:
            continue
        parsed: list[Any] = []
        for statement in step.statements:
            parsed += check_statement(statement, f"{step.object_kind} {step.object}")
        found = objects.get((step.object_kind, step.object.upper()))
        if found is not None and parsed:
            found[0].check_object(found[1], parsed)


def _without_client_commands(sql: str) -> str:
    # SnowSQL's !source lines are client commands, not SQL.
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("!"))


def _normal(sql: str) -> str:
    return " ".join(sql.split()).rstrip(";").strip()
