"""Validation and quoting of identifiers that come from config.

Config names are written in lower snake case and rendered as unquoted upper-case identifiers, which
Snowflake and fakesnow resolve the same way. Names that are keywords in either engine are quoted
(upper-case, so the quoted and unquoted spellings still agree).
"""

from __future__ import annotations

import re

# fullmatch, never match with `$`: `$` also matches before a final newline (YAML `name: |`).
IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")

# Snowflake reserved keywords (docs: "Reserved & limited keywords"): not usable unquoted.
SNOWFLAKE_RESERVED = frozenset(
    """
ACCOUNT ALL ALTER AND ANY AS BETWEEN BY CASE CAST CHECK COLUMN CONNECT CONNECTION CONSTRAINT CREATE
CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER DATABASE DELETE DISTINCT DROP
ELSE EXISTS FALSE FOLLOWING FOR FROM FULL GRANT GROUP GSCLUSTER HAVING ILIKE IN INCREMENT INNER
INSERT INTERSECT INTO IS ISSUE JOIN LATERAL LEFT LIKE LOCALTIME LOCALTIMESTAMP MINUS NATURAL NOT
NULL OF ON OR ORDER ORGANIZATION QUALIFY REGEXP REVOKE RIGHT RLIKE ROW ROWS SAMPLE SCHEMA SELECT SET
SOME START TABLE TABLESAMPLE THEN TO TRIGGER TRUE TRY_CAST UNION UNIQUE UPDATE USING VALUES VIEW
WHEN WHENEVER WHERE WINDOW WITH
""".split()
)

# Words fakesnow's DuckDB backend cannot take unquoted in some places although Snowflake can: quoted
# (upper case, so both engines still resolve the same name).
DUCKDB_RESERVED = frozenset({"AT", "ASOF", "SEMI", "ANTI", "LAMBDA", "POSITIONAL", "SUMMARIZE"})

# DuckDB's reserved keywords (`SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category =
# 'reserved'`, DuckDB 1.x-2.0) that Snowflake allows: a column called `desc` or `end` deploys to Snowflake
# but not to the local target, and hand-written view SQL would have to quote it everywhere. Refused.
DUCKDB_ONLY_RESERVED = frozenset(
    """
ANALYSE ANALYZE ARRAY ASC ASYMMETRIC BOTH COLLATE DEFAULT DEFERRABLE DESC DESCRIBE DO END EXCEPT FETCH
FOREIGN INITIALLY LEADING LIMIT OFFSET ONLY PIVOT PIVOT_LONGER PIVOT_WIDER PLACING PRIMARY REFERENCES
RETURNING SHOW SYMMETRIC TRAILING UNPIVOT VARIADIC
""".split()
) - SNOWFLAKE_RESERVED


def check(name: object) -> str:
    """Return the name if it is a plain identifier, else raise ValueError with the reason."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"identifier must be a non-empty string, got {_shown(name)}")
    if not IDENT_RE.fullmatch(name):
        raise ValueError(
            f"invalid identifier {_shown(name)}: use letters, digits and underscores, starting with a letter "
            "or underscore (at most 255 characters)"
        )
    if name.upper() in SNOWFLAKE_RESERVED:
        raise ValueError(f"invalid identifier {_shown(name)}: it is a reserved word in Snowflake; choose another")
    if name.upper() in DUCKDB_ONLY_RESERVED:
        raise ValueError(f"invalid identifier {_shown(name)}: it is a reserved word of the local target (DuckDB); "
                         "choose another (e.g. add a prefix or suffix)")
    return name


def quote(name: str) -> str:
    """Render a validated name as an identifier: upper case, quoted only where an engine needs it."""
    check(name)
    upper = name.upper()
    return f'"{upper}"' if upper in DUCKDB_RESERVED else upper


def qualify(*parts: str) -> str:
    return ".".join(quote(p) for p in parts)


def _shown(name: object) -> str:
    text = str(name)
    return repr(text if len(text) <= 60 else text[:60] + "...")
