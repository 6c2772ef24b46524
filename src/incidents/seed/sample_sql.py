"""sql/03_sample_data.sql: a small demo history as plain INSERT statements for SnowSQL.

The same generator as `incidents seed`, with fixed options (including a fixed window end), so the
committed file never changes unless the generator or the config does. VALUES holds only literals
(Snowflake rejects PARSE_JSON there); casts and PARSE_JSON are applied in the SELECT list.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from incidents.project.deployment import Deployment
from incidents.project.models import Table
from incidents.seed.generate import Generator, Window
from incidents.seed.load import SEED_TABLES, conform, declared_table
from incidents.sql.text import literal

SAMPLE_INCIDENTS = 150
SAMPLE_SEED = 63  # its year ends with high-priority incidents open: the README dashboard query shows rows
SAMPLE_END = dt.date(2025, 12, 31)
SAMPLE_START = SAMPLE_END - dt.timedelta(days=365)


def render(dep: Deployment) -> str:
    generator = Generator(SAMPLE_INCIDENTS, SAMPLE_SEED, Window(SAMPLE_START, SAMPLE_END))
    tables = {name: declared_table(dep.project, name) for name in SEED_TABLES}
    statements = [
        f"-- Demo history: {SAMPLE_INCIDENTS} incidents from {SAMPLE_START} to {SAMPLE_END} (as of "
        f"{SAMPLE_END + dt.timedelta(days=1)} 00:00 UTC),\n"
        f"-- the output of `incidents seed --incidents {SAMPLE_INCIDENTS} --random-seed {SAMPLE_SEED} "
        f"--start {SAMPLE_START} --end {SAMPLE_END}`.\n"
        "-- Rows whose keys already exist are skipped. For a live window at any scale, run `incidents seed`.\n"
    ]
    # One chunk holds all sample incidents; merge its frames per table and tree level.
    batches = [generator.dimension_batch(), *generator.batches()]
    for batch in batches:
        for name, df in batch:
            if not df.empty:
                statements.append(_insert(dep, tables[name], df))
    statements.append(dep.render("seed/solution_usage.sql.j2").rstrip() + ";\n")
    return "\n".join(statements)


def _insert(dep: Deployment, table: Table, df: pd.DataFrame) -> str:
    df = conform(table, df)
    names = list(df.columns)
    columns = []
    for i, name in enumerate(names, start=1):
        col = next(c for c in table.columns if c.name.upper() == name)
        kind = col.type.name
        cast = (f"PARSE_JSON(COLUMN{i})" if kind in ("VARIANT", "OBJECT")
                else f"PARSE_JSON(COLUMN{i})::ARRAY" if kind == "ARRAY" else f"COLUMN{i}::{col.type}")
        columns.append({"name": col.name, "cast": cast})
    position = {name.lower(): i for i, name in enumerate(names, start=1)}
    # A key over a column the sample leaves NULL (an imported-only key such as user_key) cannot clash.
    keys = [[(col, position[col]) for col in key] for key in (table.primary_key, *table.unique_keys)
            if all(col in position for col in key)]
    rows = [[_value(v) for v in row] for row in df.itertuples(index=False, name=None)]
    return dep.render("seed/sample_insert.sql.j2", table=table, columns=columns, rows=rows, keys=keys)


def _value(value: Any) -> str:
    """A plain literal for VALUES: timestamps and JSON as text, cast in the SELECT list."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "NULL"
    if isinstance(value, float):
        return "NULL" if math.isnan(value) else f"{value:.2f}"
    if isinstance(value, pd.Timestamp):
        return literal(value.isoformat(sep=" "))
    if hasattr(value, "item"):  # numpy scalar
        return _value(value.item())
    return literal(value)
