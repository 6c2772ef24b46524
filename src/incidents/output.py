"""Formatting of results for the terminal and for machines (json, csv)."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from typing import Any


def jsonable(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def rows_as_json(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    return json.dumps([{c: jsonable(v) for c, v in zip(columns, row, strict=True)} for row in rows], indent=2)


def rows_as_csv(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else jsonable(v) for v in row])
    return buffer.getvalue()


def cell(value: Any) -> str:
    if value is None:
        return "NULL"
    value = jsonable(value)
    return str(value)
