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

import contextlib
from typing import Any

import pandas as pd

from incidents.errors import ConfigError, NotDeployedError, TargetError, first_line
from incidents.project.deployment import Deployment
from incidents.project.models import Project, Table
from incidents.sql.session import Session

# Load order: parents before children. The category tree is not among them: config declares it and
# deploy keeps it (config/tables/incident_categories.yml, reference_data); seed files incidents under it.
SEED_TABLES = ("users", "solution_templates", "incidents", "incident_status_history",
               "incident_assignment_history", "incident_comments", "incident_attachments", "incident_solutions",
               "change_events", "incident_alerts")
STAGE_PREFIX = "SEED_STAGE_"


class Loader:
    """Bulk loads into declared tables. With `atomic`, everything between `begin()` and `finish()` (the
    --replace DELETEs included) lands in one transaction: a seed killed half way leaves the tables as
    they were. Snowflake commits every DDL statement, and staging creates temporary tables, so there
    the chunks are staged first and moved into their tables in one transaction at the end."""

    def __init__(self, session: Session, dep: Deployment, *, staged: bool | None = None,
                 tables: tuple[str, ...] = SEED_TABLES, atomic: bool = False) -> None:
        self.session, self.dep, self.atomic = session, dep, atomic
        self.staged = session.backend != "local" if staged is None else staged
        self.tables = {name: declared_table(dep.project, name) for name in tables}
        if session.write_pandas is None:
            raise TargetError("this target takes no bulk loads", obj=dep.database)
        self._write = session.write_pandas
        self._stages: set[str] = set()
        self._staged_columns: dict[str, list[Any]] = {}  # table -> columns its stage holds (atomic, staged)
        self._replace = False
        self._open = False  # a transaction of ours is open

    def sql(self, template: str, **extra: Any) -> str:
        return self.dep.render(f"seed/{template}", **extra)

    # ------------------------------------------------------------------ checks

    def missing_tables(self) -> list[str]:
        try:
            _, rows = self.session.execute(self.sql("existing_tables.sql.j2"))
        except TargetError as exc:
            raise NotDeployedError(f"cannot read the tables of {self.dep.database}.{self.dep.schema} ({exc}); "
                                   "run `incidents deploy` first") from None
        present = {str(r[0]).lower() for r in rows}
        return [name for name in SEED_TABLES if name not in present]

    def categories(self) -> dict[int, str]:
        """The deployed category tree: id -> code."""
        _, rows = self.session.execute(self.sql("categories.sql.j2"), obj="incident_categories")
        return {int(r[0]): str(r[1]) for r in rows}

    def row_counts(self) -> dict[str, int]:
        _, rows = self.session.execute(self.sql("row_counts.sql.j2", tables=SEED_TABLES))
        counts = {str(name): int(count) for name, count in rows}
        return {name: counts[name] for name in SEED_TABLES}

    # ------------------------------------------------------------------ writes

    def begin(self) -> None:
        """Open the load's transaction (staged: it opens in `finish`, after the last chunk is staged)."""
        if self.atomic and not self.staged:
            self._transaction("begin")

    def delete_all(self) -> None:
        """Empty the seeded tables, children first (staged and atomic: in `finish`'s transaction)."""
        if self.atomic and self.staged:
            self._replace = True
            return
        self._delete_all()

    def _delete_all(self) -> None:
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
        columns = [c for c in table.columns if c.name.upper() in df.columns]
        if self.atomic:  # every chunk into one stage per table; moved at `finish`
            if stage not in self._stages:
                self.session.execute(self.sql("drop_stage.sql.j2", stage=stage), obj=stage)
                self._stages.add(stage)
                self._staged_columns[name] = columns
            self._write_pandas(df, stage, auto_create_table=True, table_type="temporary")
            return len(df)
        self._stages.add(stage)
        self.session.execute(self.sql("drop_stage.sql.j2", stage=stage), obj=stage)
        self._write_pandas(df, stage, auto_create_table=True, table_type="temporary")
        self.session.execute(self.sql("insert_from_stage.sql.j2", table=table, columns=columns, stage=stage),
                             obj=name)
        return len(df)

    def finish(self) -> None:
        """The derived solution counts, then the commit of an atomic load; the stages go."""
        if self.atomic and self.staged:
            self._transaction("begin")
            if self._replace:
                self._delete_all()
            for name in (n for n in SEED_TABLES if n in self._staged_columns):
                stage = f"{STAGE_PREFIX}{name.upper()}"
                self.session.execute(self.sql("insert_from_stage.sql.j2", table=self.tables[name],
                                              columns=self._staged_columns[name], stage=stage), obj=name)
        self.session.execute(self.sql("solution_usage.sql.j2"), obj="solution_templates")
        if self._open:
            self._transaction("commit")
        self.drop_stages()

    def abort(self) -> None:
        """After a failure: roll the load's transaction back, drop the stages; errors here are not the news."""
        with contextlib.suppress(TargetError):
            if self._open:
                self._transaction("rollback")
            self.drop_stages()

    def _transaction(self, verb: str) -> None:
        self.session.execute(self.sql(f"{verb}.sql.j2"), obj="seed transaction")
        self._open = verb == "begin"

    def drop_stages(self) -> None:
        for stage in sorted(self._stages):
            self.session.execute(self.sql("drop_stage.sql.j2", stage=stage), obj=stage)
        self._stages.clear()

    def _write_pandas(self, df: pd.DataFrame, table_name: str, **options: Any) -> None:
        try:
            ok, _chunks, _rows, output = self._write(
                self.session.conn, df, table_name, database=self.dep.database.upper(),
                schema=self.dep.schema.upper(), quote_identifiers=True, use_logical_type=True, **options)
        except Exception as exc:
            if not self.session.is_target_error(exc):
                raise
            message = first_line(exc)
            raise TargetError(f"bulk load failed: {message}", obj=table_name) from exc
        if not ok:
            raise TargetError(f"bulk load failed: {output}", obj=table_name)


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
