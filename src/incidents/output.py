"""Values for machines: JSON that keeps NUMBER precision and never holds NaN, and CSV.

Every JSON the tool prints goes through `dumps`: a Snowflake NUMBER (Python Decimal) is written as a
JSON number with exactly its digits (never rounded through a float), a float that is NaN or
infinite becomes null (JSON has no such values), timestamps are ISO 8601 strings and binary is hex.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import re
import uuid
from typing import Any


def jsonable(value: Any) -> Any:
    """A value JSON can hold; Decimals are kept (see `dumps`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def dumps(value: Any, indent: int | None = 2) -> str:
    """JSON text of `value` with Decimals written exactly (as numbers; NaN/Infinity as null)."""
    marker = f"@@decimal-{uuid.uuid4().hex}-"
    exact: list[str] = []

    def mark(v: Any) -> Any:
        if isinstance(v, decimal.Decimal):
            if not v.is_finite():
                return None
            exact.append(format(v, "f"))
            return f"{marker}{len(exact) - 1}@@"
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        return v

    text = json.dumps(mark(jsonable(value)), indent=indent, allow_nan=False)
    if not exact:
        return text
    # One pass over the text (a replace per value was quadratic: 1M NUMBER values never finished).
    return re.sub(f'"{re.escape(marker)}(\\d+)@@"', lambda m: exact[int(m.group(1))], text)


def rows_as_csv(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(v, null="") for v in row])
    return buffer.getvalue()


def cell(value: Any, null: str = "NULL") -> str:
    """A value for a terminal table or CSV: exact decimals, integers without `.0`."""
    if value is None:
        return null
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    value = jsonable(value)
    return "" if value is None else str(value)


def unique_names(columns: list[str]) -> list[str]:
    """Column names as dict keys: a repeated name gets _2, _3 ... (SELECT a, a is legal SQL)."""
    seen: dict[str, int] = {}
    names = []
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        candidate = name if seen[name] == 1 else f"{name}_{seen[name]}"
        while candidate in seen and candidate != name:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
        seen.setdefault(candidate, 1)
        names.append(candidate)
    return names


class JsonResult:
    """`to_json()` for every result: the tool's JSON rules (exact decimals, no NaN)."""

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self, indent: int | None = 2) -> str:
        return dumps(self.to_dict(), indent=indent)
