"""Project + environment -> the DDL of every object, and the committed sql/ files.

Pure: reads templates, writes nothing. `write_files` and `stale_files` are the only file I/O.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from incidents import __version__
from incidents.errors import ConfigError
from incidents.models import HISTORY_TABLE, Environment, Project, Table, View
from incidents.sql import identifiers
from incidents.sql.templating import render_template
from incidents.sql.text import count_statements

if TYPE_CHECKING:
    from incidents.access.desired import DesiredAccess

SCHEMA_FILE = "sql/01_schema.sql"
VIEWS_FILE = "sql/02_analytics_views.sql"
SAMPLE_FILE = "sql/03_sample_data.sql"
SETUP_FILE = "setup.sql"


@dataclass(frozen=True)
class Rendered:
    """One object's DDL and the checksum deploy records for it."""

    kind: str  # "database" | "schema" | "table" | "view" | "reference_data"
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return checksum(self.sql)


@dataclass(frozen=True)
class DesiredState:
    env: Environment
    database: Rendered
    schema: Rendered
    history_table: Rendered
    tables: tuple[tuple[Table, Rendered], ...]
    reference_data: tuple[Rendered, ...]
    views: tuple[tuple[View, Rendered], ...]
    access: DesiredAccess | None = None  # roles, grants, masking, audit: Snowflake only

    def objects(self) -> list[Rendered]:
        return [self.database, self.schema, *(r for _, r in self.tables), self.history_table,
                *self.reference_data, *(r for _, r in self.views)]


def checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def one_statement(rendered: Rendered, source: str) -> Rendered:
    """Every object renders to exactly one statement, by Snowflake's lexer. More means a value broke
    out of its quoting (or a template ends one statement and starts another): refuse to write it."""
    count = count_statements(rendered.sql)
    if count != 1:
        raise ConfigError(f"{rendered.kind} {rendered.name} renders to {count} SQL statements, expected 1; "
                          "a value in it is not quoted as it must be, or the template has a stray ';'",
                          file=source)
    return rendered


def context(project: Project, env: Environment, **extra: Any) -> dict[str, Any]:
    """What every template sees."""

    def fq(name: str) -> str:
        return identifiers.qualify(env.database, env.schema, name)

    return {"project": project, "env": env, "fq": fq, "vars": project.variables,
            "currency": project.currency, "history_table": HISTORY_TABLE, **extra}


def desired_state(project: Project, env: Environment) -> DesiredState:
    ctx = context(project, env)
    tpl = project.templates_dir

    def r(kind: str, name: str, template: str, **extra: Any) -> Rendered:
        return one_statement(Rendered(kind, name, render_template(tpl, template, **ctx, **extra)),
                             extra["table"].source if "table" in extra else "config/project.yml")

    tables = tuple((t, r("table", t.name, "schema/table.sql.j2", table=t)) for t in project.tables)
    reference = tuple(_reference_data(project, env, t) for t in project.tables if t.reference_data)
    return DesiredState(
        env=env,
        database=r("database", env.database, "schema/database.sql.j2"),
        schema=r("schema", env.schema, "schema/schema.sql.j2"),
        history_table=r("table", HISTORY_TABLE, "schema/history_table.sql.j2"),
        tables=tables,
        reference_data=reference,
        views=_views(project, env, ctx),
        access=_access(project, env),
    )


def _access(project: Project, env: Environment) -> DesiredAccess | None:
    from incidents.access.desired import desired_access

    return desired_access(project, env)


def _reference_data(project: Project, env: Environment, table: Table) -> Rendered:
    assert table.reference_data is not None
    names = list(dict.fromkeys(col for row in table.reference_data.rows for col, _ in row))
    columns = [table.column(name) for name in names]
    rows = [[dict(row).get(name) for name in names] for row in table.reference_data.rows]
    sql = render_template(project.templates_dir, "schema/reference_data.sql.j2",
                          **context(project, env, table=table, columns=columns, rows=rows,
                                    key=table.reference_data.key))
    return one_statement(Rendered("reference_data", table.name, sql), table.source)


def _views(project: Project, env: Environment, ctx: dict[str, Any]) -> tuple[tuple[View, Rendered], ...]:
    """Render every view and order them so a view comes after the views it selects from."""
    bodies = {v.name: render_template(project.templates_dir, v.template, **ctx, view=v) for v in project.views}
    fq_names = {v.name: identifiers.qualify(env.database, env.schema, v.name) for v in project.views}
    deps: dict[str, tuple[str, ...]] = {}
    for view in project.views:
        deps[view.name] = tuple(
            other for other, fq in fq_names.items()
            if other != view.name and re.search(rf"(?<![\w.]){re.escape(fq)}(?!\w)", bodies[view.name], re.I)
        )
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ConfigError(f"view {name!r} depends on itself through other views", file="config/views.yml")
        visiting.add(name)
        for dep in deps[name]:
            visit(dep)
        visiting.discard(name)
        ordered.append(name)

    for view in project.views:
        visit(view.name)
    by_name = {v.name: v for v in project.views}
    result = []
    for name in ordered:
        view = by_name[name]
        sql = render_template(project.templates_dir, "schema/view.sql.j2", **ctx, view=view, body=bodies[name])
        result.append((view, one_statement(Rendered("view", name, sql), f"templates/{view.template}")))
    return tuple(result)


# --------------------------------------------------------------------------- committed files

def render_files(project: Project, env: Environment) -> dict[str, str]:
    """The committed files, byte for byte: sql/01..03, setup.sql and docs/views.md."""
    from incidents.seed import render_sample_sql

    state = desired_state(project, env)
    sample_sql = render_sample_sql(project, env)
    header = (
        f"-- Generated by `incidents render` {_major_minor()} from config/ and templates/ (env: {env.name}).\n"
        "-- Do not edit: change the config or templates and run `incidents render`.\n"
    )

    def section(objs: list[Rendered]) -> str:
        return "\n".join(o.sql.rstrip() + "\n" for o in objs)

    schema_objs = [state.database, state.schema, *(r for _, r in state.tables), state.history_table,
                   *state.reference_data]
    views = [r for _, r in state.views]
    files = {
        SCHEMA_FILE: header + "\n" + section(schema_objs),
        VIEWS_FILE: header + "\n" + (section(views) if views else "-- No analytics views are declared.\n"),
        SAMPLE_FILE: header + "\n" + (sample_sql or "-- No sample data is declared.\n"),
    }
    if project.views:
        from incidents.viewdocs import DOCS_FILE, render_docs

        files[DOCS_FILE] = render_docs(project)
    if state.access is not None:  # Snowflake only; not sourced by setup.sql (it needs a role admin)
        from incidents.access.desired import ACCESS_FILE, TASKS_FILE, access_file, tasks_file

        files[ACCESS_FILE] = header + "\n" + access_file(project, env, state.access)
        files[TASKS_FILE] = header + "\n" + tasks_file(state.access)
    from incidents.ingest.config import ingest_file_exists

    if ingest_file_exists(project.root):  # optional Snowflake intake; not sourced by setup.sql
        from incidents.ingest.intake import INTAKE_FILE, render_intake

        files[INTAKE_FILE] = header + "\n" + render_intake(project, env)
    files[SETUP_FILE] = render_template(project.templates_dir, "setup.sql.j2",
                                        **context(project, env, header=header,
                                                  files=[SCHEMA_FILE, VIEWS_FILE, SAMPLE_FILE]))
    return files


def _major_minor() -> str:
    # Only major.minor, so a patch release does not make every committed file stale.
    return ".".join(__version__.split(".")[:2])


def write_files(root: Path, files: dict[str, str]) -> list[str]:
    """Write files whose content changed; return the paths written."""
    written = []
    for rel, content in files.items():
        path = root / rel
        if path.is_file() and path.read_text(encoding="utf-8") == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8", newline="\n")
        written.append(rel)
    return written


def stale_files(root: Path, files: dict[str, str]) -> list[str]:
    return [rel for rel, content in files.items()
            if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != content]
