"""Bulk loading of generated frames into the deployed tables, on fakesnow or Snowflake.

Two strategies, one per backend:
- direct (local): fakesnow's write_pandas inserts a DataFrame into the existing table through
  DuckDB's DataFrame scan; JSON text is cast to VARIANT/ARRAY by DuckDB on the way in.
- staged (Snowflake): the connector's write_pandas (Parquet -> PUT -> COPY INTO) into a temporary
  stage table, then one INSERT ... SELECT with PARSE_JSON and declared-type casts, because COPY of a
  Parquet string into a VARIANT column would store a JSON *string*, not an object.
The staged strategy also runs on fakesnow, which is how the tests cover its SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from incidents.errors import ConfigError, NotDeployedError, TargetError, first_line
from incidents.models import Environment, Project, Table
from incidents.render import context
from incidents.session import Session
from incidents.templating import render_template

# Load order: parents before children.
SEED_TABLES = ("users", "incident_categories", "solution_templates", "incidents", "incident_status_history",
               "incident_assignment_history", "incident_comments", "incident_attachments", "incident_solutions")
STAGE_PREFIX = "SEED_STAGE_"
WriteFn = Callable[..., Any]


class Loader:
    def __init__(self, session: Session, project: Project, env: Environment, *, staged: bool | None = None,
                 tables: tuple[str, ...] = SEED_TABLES) -> None:
        self.session, self.project, self.env = session, project, env
        self.staged = session.backend != "local" if staged is None else staged
        self.tables = {name: declared_table(project, name) for name in tables}
        self._write = _write_function(session.backend)
        self._stages: set[str] = set()

    def sql(self, template: str, **extra: Any) -> str:
        return render_template(self.project.templates_dir, f"seed/{template}",
                               **context(self.project, self.env, **extra))

    # ------------------------------------------------------------------ checks

    def missing_tables(self) -> list[str]:
        try:
            _, rows = self.session.execute(self.sql("existing_tables.sql.j2"))
        except TargetError as exc:
            raise NotDeployedError(f"cannot read the tables of {self.env.database}.{self.env.schema} ({exc}); "
                                   "run `incidents deploy` first") from None
        present = {str(r[0]).lower() for r in rows}
        return [name for name in SEED_TABLES if name not in present]

    def row_counts(self) -> dict[str, int]:
        _, rows = self.session.execute(self.sql("row_counts.sql.j2", tables=SEED_TABLES))
        counts = {str(name): int(count) for name, count in rows}
        return {name: counts[name] for name in SEED_TABLES}

    # ------------------------------------------------------------------ writes

    def delete_all(self) -> None:
        """Empty the seeded tables, children first."""
        for name in reversed(SEED_TABLES):
            table = self.tables[name]
            for fk in table.foreign_keys:
                if fk.ref_table == name:
                    self.session.execute(self.sql("delete.sql.j2", table=name, unlink=fk.columns[0]), obj=name)
            self.session.execute(self.sql("delete.sql.j2", table=name, unlink=None), obj=name)

    def write(self, name: str, df: pd.DataFrame) -> int:
        if df.empty:
            return 0
        table = self.tables[name]
        df = conform(table, df)
        if not self.staged:
            # An Arrow table registered straight with DuckDB was tried: no faster (0.86x in an A/B
            # run), because the time goes into DuckDB maintaining the PK/FK indexes, not the copy.
            self._write_pandas(df, table.name.upper())
            return len(df)
        stage = f"{STAGE_PREFIX}{table.name.upper()}"
        self._stages.add(stage)
        self.session.execute(self.sql("drop_stage.sql.j2", stage=stage), obj=stage)
        self._write_pandas(df, stage, auto_create_table=True, table_type="temporary")
        columns = [c for c in table.columns if c.name.upper() in df.columns]
        self.session.execute(self.sql("insert_from_stage.sql.j2", table=table, columns=columns, stage=stage),
                             obj=name)
        return len(df)

    def finish(self) -> None:
        self.session.execute(self.sql("solution_usage.sql.j2"), obj="solution_templates")
        self.drop_stages()

    def drop_stages(self) -> None:
        for stage in sorted(self._stages):
            self.session.execute(self.sql("drop_stage.sql.j2", stage=stage), obj=stage)
        self._stages.clear()

    def _write_pandas(self, df: pd.DataFrame, table_name: str, **options: Any) -> None:
        try:
            ok, _chunks, _rows, output = self._write(
                self.session.conn, df, table_name, database=self.env.database.upper(),
                schema=self.env.schema.upper(), quote_identifiers=True, use_logical_type=True, **options)
        except Exception as exc:
            if not self.session.is_target_error(exc):
                raise
            message = first_line(exc)
            raise TargetError(f"bulk load failed: {message}", obj=table_name) from exc
        if not ok:
            raise TargetError(f"bulk load failed: {output}", obj=table_name)


def _write_function(backend: str) -> WriteFn:
    # Imported here: only targets.py imports the connector or fakesnow at module level.
    if backend == "local":
        from incidents.localdb import write_pandas as fake_write

        return fake_write
    from snowflake.connector.pandas_tools import write_pandas as snowflake_write

    return snowflake_write


def declared_table(project: Project, name: str) -> Table:
    table = project.table(name)
    if table is None:
        raise ConfigError(f"the seed fills table {name!r}, which config/tables/ does not declare")
    return table


def conform(table: Table, df: pd.DataFrame) -> pd.DataFrame:
    """Columns in declared order; a config that renamed or added required columns is a clear error."""
    declared = [c.name.upper() for c in table.columns]
    extra = [c for c in df.columns if c not in declared]
    if extra:
        raise ConfigError(f"the seed generates column(s) {', '.join(extra)} that are not declared",
                          file=table.source)
    missing = [c for c in table.columns if c.name.upper() not in df.columns and not c.nullable and c.default is None]
    if missing:
        raise ConfigError(f"the seed cannot fill required column(s) {', '.join(c.name for c in missing)}",
                          file=table.source)
    return df[[c for c in declared if c in df.columns]]
