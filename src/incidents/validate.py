"""Offline checks of a project: every rendered statement parses as Snowflake SQL, and every view's
documented columns match its SELECT list. No connection needed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from incidents.errors import ConfigError, first_line
from incidents.models import Environment, Project, View
from incidents.render import desired_state, render_files

if TYPE_CHECKING:
    from incidents.plan import Step


def parse_statements(sql: str, source: str) -> list[object]:
    """Parse with sqlglot's Snowflake dialect. sqlglot does not raise on syntax it cannot read: it
    returns an opaque Command, which we treat as an error."""
    import sqlglot
    from sqlglot import exp

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    # SnowSQL's !source lines are client commands, not SQL.
    text = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("!"))
    text = _check_pipeline_statements(text, source)
    try:
        parsed = [s for s in sqlglot.parse(text, read="snowflake") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"does not parse as Snowflake SQL: {first_line(exc)}", file=source) from None
    for statement in parsed:
        if isinstance(statement, exp.Command):
            raise ConfigError(f"statement not understood as Snowflake SQL: {statement.sql()[:120]}", file=source)
    return parsed


def _check_pipeline_statements(text: str, source: str) -> str:
    """Statements beyond sqlglot are checked against Snowflake's documented syntax on their own:
    CREATE TASK / CREATE PIPE of sql/06_alert_intake.sql (incidents.ingest.intake) and the access
    statements (incidents.access.grammar). The rest of the text is returned for sqlglot."""
    from incidents.access import grammar
    from incidents.ingest.intake import check_statement, pipeline_kind
    from incidents.predict import grammar as predict_grammar
    from incidents.sqltext import split_statements

    statements = split_statements(text)
    special = [s for s in statements if pipeline_kind(s) or grammar.is_access_statement(s)
               or predict_grammar.is_predict_statement(s)]
    if not special:
        return text
    for statement in special:
        if pipeline_kind(statement):
            check_statement(statement, source)
        elif predict_grammar.is_predict_statement(statement):
            predict_grammar.check_statement(statement, source)
        else:
            grammar.check_statement(statement, source)
    return ";\n".join(s for s in statements if s not in special)


def validate_project(project: Project, env: Environment, files: dict[str, str] | None = None) -> int:
    """Raise ConfigError on the first problem; return how many statements were checked. `files`:
    the committed files already rendered (render passes them, so nothing renders twice)."""
    from incidents.sqltext import split_statements

    state = desired_state(project, env)
    seen: set[str] = set()
    count = 0
    for obj in state.objects():
        parsed = parse_statements(obj.sql, f"{obj.kind} {obj.name}")
        count += len(parsed)
        seen.add(_normal(obj.sql))
        view = next((v for v, r in state.views if r is obj), None)
        if view is not None:
            _check_select_list(view, parsed[0])
    count += _validate_ingest(project, env, seen)
    count += _validate_access(state, seen)
    count += _validate_checks(project, env)
    count += _validate_predict(project, env)
    for rel, content in (files if files is not None else render_files(project, env)).items():
        if rel.endswith(".sql"):  # only what no object above already parsed (the sample data, mainly)
            rest = [s for s in split_statements(content) if _normal(s) not in seen]
            parse_statements(";\n".join(rest), rel)
    return count


def _validate_ingest(project: Project, env: Environment, seen: set[str]) -> int:
    """config/ingest.yml (when present) and every statement of the ingest pass."""
    from incidents.ingest.config import ingest_file_exists
    from incidents.ingest.intake import pass_statements

    if not ingest_file_exists(project.root):
        return 0
    statements = pass_statements(project, env)
    for statement in statements:
        parse_statements(statement, "templates/ingest/")
        seen.add(_normal(statement))
    return len(statements)


def _validate_predict(project: Project, env: Environment) -> int:
    """config/predict.yml and every statement `incidents predict` can send (incidents.predict.snowflake)."""
    from incidents.predict.snowflake import all_statements

    statements = all_statements(project, env)
    for source, statement in statements:
        parse_statements(statement, source)
    return len(statements)


def _validate_checks(project: Project, env: Environment) -> int:
    """The statements of `incidents check`: the recorded run, its read-back and the unrecorded run."""
    from incidents.checks import check_statements

    statements = check_statements(project, env, "2000-01-01 00:00:00.000000")
    for statement in statements:
        parse_statements(statement, "templates/check/")
    return len(statements)


def _validate_access(state: object, seen: set[str]) -> int:
    """Every access statement, and each statement inside the audit and purge procedures (inside a
    procedure's $$ body sqlglot sees only a string)."""
    from incidents.access.desired import procedure_bodies

    access = getattr(state, "access", None)
    if access is None:
        return 0
    count = 0
    for obj in access.objects:
        for statement in obj.statements:
            parse_statements(statement, f"{obj.kind} {obj.name}")
            seen.add(_normal(statement))
            count += 1
    for name, statement in procedure_bodies(access):
        parse_statements(statement, f"procedure {name}")
        count += 1
    return count


def check_steps(project: Project, steps: Sequence[Step]) -> None:
    """What deploy is about to send passes the same checks as `validate` (statements parse as
    Snowflake SQL, views select their documented columns), before anything is sent. Only the steps
    that run: a deploy with nothing to do parses nothing."""
    views = {v.name.upper(): v for v in project.views}
    for step in steps:
        if not step.runs:
            continue
        for statement in step.statements:
            parsed = parse_statements(statement, f"{step.object_kind} {step.object}")
            view = views.get(step.object.upper()) if step.object_kind == "view" else None
            if view is not None and parsed:
                _check_select_list(view, parsed[0])


def _normal(sql: str) -> str:
    return " ".join(sql.split()).rstrip(";").strip()


def _check_select_list(view: View, create: object) -> None:
    from sqlglot import exp

    if not view.columns:
        return
    query = create.expression if isinstance(create, exp.Create) else None
    if not isinstance(query, exp.Query) or any(isinstance(e, exp.Star) for e in query.selects):
        return  # SELECT *: the names are the source's, nothing to compare offline
    _check_view_columns(view, query.named_selects)  # a UNION is named by its first SELECT


def _check_view_columns(view: View, selected: list[str]) -> None:
    """The documented columns name the SELECT list, in order: a count match alone would let a
    swapped pair silently mislabel a view's data (the column list renames by position)."""
    documented = [name for name, _ in view.columns]
    key = f"views.{view.name}.columns"
    if len(selected) != len(documented):
        raise ConfigError(f"view {view.name} selects {len(selected)} columns but documents {len(documented)}; "
                          "keep columns: in the same order as the SELECT list", file=view.source, key=key)
    for i, (doc, sel) in enumerate(zip(documented, selected, strict=True), start=1):
        if doc.upper() != sel.upper():
            raise ConfigError(f"view {view.name}: column {i} is documented as {doc!r} but the SELECT names it "
                              f"{sel.lower()!r}; keep columns: in the same order and spelling as the SELECT list",
                              file=view.source, key=f"{key}.{doc}")
