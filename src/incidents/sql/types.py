"""Snowflake data types: parse what config declares, read what INFORMATION_SCHEMA reports, and
canonicalise both so that a type compares equal to itself however it was spelled."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_VARCHAR = 16777216
MAX_BINARY = 8388608

_NUMBER = {"NUMBER", "DECIMAL", "NUMERIC", "DEC"}
_INTEGER = {"INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"}
_FLOAT = {"FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL"}
_TEXT = {"VARCHAR", "STRING", "TEXT", "NVARCHAR", "NVARCHAR2", "CHAR VARYING", "NCHAR VARYING"}
_CHAR = {"CHAR", "CHARACTER", "NCHAR"}
_BINARY = {"BINARY", "VARBINARY"}
_TIMESTAMP = {"TIMESTAMP", "DATETIME", "TIMESTAMP_NTZ", "TIMESTAMPNTZ", "TIMESTAMP WITHOUT TIME ZONE"}
_TIMESTAMP_LTZ = {"TIMESTAMP_LTZ", "TIMESTAMPLTZ", "TIMESTAMP WITH LOCAL TIME ZONE"}
_TIMESTAMP_TZ = {"TIMESTAMP_TZ", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"}
_PLAIN = {"BOOLEAN", "DATE", "VARIANT", "OBJECT", "ARRAY", "GEOGRAPHY", "GEOMETRY"}

_TYPE_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*")


@dataclass(frozen=True)
class SqlType:
    """A canonical Snowflake type. `name` is the canonical base name; `args` its parameters."""

    name: str
    args: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}({','.join(map(str, self.args))})" if self.args else self.name


def parse(text: str) -> SqlType:
    """Parse a declared type such as 'int', 'VARCHAR(100)', 'number(14, 2)'. Raise ValueError."""
    m = _TYPE_RE.fullmatch(text or "")
    if not m:
        raise ValueError(f"unsupported type {text!r}")
    base = " ".join(m.group(1).upper().split())
    a = int(m.group(2)) if m.group(2) is not None else None
    b = int(m.group(3)) if m.group(3) is not None else None
    return canonical(base, a, b, original=text)


# Types with fractional seconds (0-9 digits, default 9), by the spellings that mean each.
_TEMPORAL = {**{n: "TIMESTAMP_NTZ" for n in _TIMESTAMP}, **{n: "TIMESTAMP_LTZ" for n in _TIMESTAMP_LTZ},
             **{n: "TIMESTAMP_TZ" for n in _TIMESTAMP_TZ}, "TIME": "TIME"}


def canonical(base: str, a: int | None = None, b: int | None = None, *, original: str = "") -> SqlType:
    shown = original or base
    if base in _NUMBER:
        precision, scale = (38 if a is None else a), (0 if b is None else b)
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise ValueError(f"invalid precision/scale in {shown!r}: precision 1-38, scale 0-precision")
        return SqlType("NUMBER", (precision, scale))
    if b is not None:
        raise ValueError(f"type {shown!r} takes at most one parameter")
    if base in _TEXT or base in _CHAR:
        length = a if a is not None else (1 if base in _CHAR else MAX_VARCHAR)
        if not 1 <= length <= MAX_VARCHAR:
            raise ValueError(f"invalid length in {shown!r}: 1-{MAX_VARCHAR}")
        return SqlType("VARCHAR", (length,))
    if base in _TEMPORAL:
        precision = 9 if a is None else a
        if not 0 <= precision <= 9:
            raise ValueError(f"invalid fractional-seconds precision in {shown!r}: 0-9")
        return SqlType(_TEMPORAL[base], (precision,))
    if base in _BINARY:
        return SqlType("BINARY", (a if a is not None else MAX_BINARY,))
    plain = _plain(base) if a is None else None
    if plain is None:
        raise ValueError(f"unsupported type {shown!r}: use NUMBER(p,s), INT, FLOAT, VARCHAR(n), BOOLEAN, DATE, "
                         "TIME, TIMESTAMP_NTZ/LTZ/TZ, VARIANT, OBJECT, ARRAY or BINARY")
    return plain


def _plain(base: str) -> SqlType | None:
    """Types without parameters: integers are NUMBER(38,0), floats FLOAT."""
    if base in _INTEGER:
        return SqlType("NUMBER", (38, 0))
    if base in _FLOAT:
        return SqlType("FLOAT")
    return SqlType(base) if base in _PLAIN else None


def from_information_schema(data_type: str, char_len: int | None, num_precision: int | None,
                            num_scale: int | None, dt_precision: int | None = None) -> SqlType:
    """Canonicalise an INFORMATION_SCHEMA.COLUMNS row (Snowflake reports STRING as TEXT(16777216))."""
    base = " ".join(str(data_type).upper().split())
    if base in _NUMBER or base in _INTEGER:
        return SqlType("NUMBER", (num_precision or 38, num_scale or 0))
    if base in _TEXT or base in _CHAR:
        return SqlType("VARCHAR", (char_len or MAX_VARCHAR,))
    if base in _BINARY:
        return SqlType("BINARY", (char_len or MAX_BINARY,))
    if base.startswith("TIMESTAMP") or base in ("DATETIME", "TIME"):
        # Precision is not read back: INFORMATION_SCHEMA.COLUMNS.DATETIME_PRECISION is documented as "not
        # applicable for Snowflake" (and fakesnow has no such column). Live timestamps read as (9).
        t = canonical(base)
        return SqlType(t.name, (9 if dt_precision is None else int(dt_precision),))
    return canonical(base)


def same_on_backend(declared: SqlType, live: SqlType, backend: str) -> bool:
    """Do two canonical types match, allowing for what a backend cannot store?

    fakesnow reports TIMESTAMP_LTZ as TIMESTAMP_TZ, OBJECT and ARRAY as VARIANT, forgets VARCHAR
    lengths when a database is reopened (it reports the maximum then), never reports BINARY lengths,
    and has no DATETIME_PRECISION column (so a live timestamp always reads back as precision 9)."""
    if declared == live:
        return True
    if declared.name == live.name and (declared.name.startswith("TIMESTAMP") or declared.name == "TIME"):
        return True  # precision is not introspected on any backend; the table checksum covers it
    if backend != "local":
        return False
    loose = {"TIMESTAMP_LTZ": "TIMESTAMP_TZ", "OBJECT": "VARIANT", "ARRAY": "VARIANT"}
    d, v = loose.get(declared.name, declared.name), loose.get(live.name, live.name)
    if d == v and (d == "VARIANT" or d.startswith("TIMESTAMP") or d == "TIME"):
        return True
    if d == v == "BINARY":
        return live.args == (MAX_BINARY,)
    return d == v == "VARCHAR" and live.args == (MAX_VARCHAR,)
