"""How values become SQL text, and how SQL text splits into statements, by Snowflake's lexer.

`literal` is the one function that turns a value into SQL (identifiers go through
`identifiers.quote`). `split_statements` reads text the way Snowflake does: single-quoted strings
with backslash escapes and doubled quotes, `$$` strings, double-quoted identifiers, `--`, `//` and
`/* */` comments. It is what lets the tool check that a rendered object is exactly one statement
and that `query` runs exactly one.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from typing import Any


class ConfigText(str):
    """A string read from config. Templates must pass it through `literal` or `ident`: printing one
    bare is refused at render time (see templating.finalize), so no config value becomes SQL text
    by accident."""

    __slots__ = ()


_DOLLARS = re.compile(r"\$(?=\$)")  # every `$` that a `$` follows: no `$$` survives


class UnsafeValue(ValueError):
    """A value that has no safe SQL literal (NaN, infinity, unknown type)."""


def literal(value: Any) -> str:
    """Render a Python value as a Snowflake literal, correct for Snowflake's lexer.

    In a single-quoted Snowflake string a backslash starts an escape sequence and `''` is a quote,
    so both are escaped. A `$` followed by another `$` is written `\\x24`: a literal may sit inside
    a procedure's `$$` body, where a bare `$$` would end the body and let the rest run as SQL.
    (https://docs.snowflake.com/en/sql-reference/data-types-text#escape-sequences-in-single-quoted-string-constants)
    Every other character stands for itself."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise UnsafeValue(f"{value} has no SQL literal; use a finite number")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsafeValue(f"{value} has no SQL literal; use a finite number")
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat(sep=' ')}'::TIMESTAMP_NTZ"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'::DATE"
    if isinstance(value, str):
        text = str(value).replace("\\", "\\\\").replace("'", "''")
        text = _DOLLARS.sub(lambda _: "\\x24", text)
        return f"'{text}'"
    raise UnsafeValue(f"cannot write a {type(value).__name__} as a SQL literal; use a string or a number")


def dollar_quoted(body: str) -> str:
    """`body` as a `$$`-delimited string constant (a procedure's body). Inside one there are no
    escapes, so a `$$` in the body would end it early and the rest would run as statements: refused.
    `literal` never writes `$$`, so only a template's own text can trip this."""
    if "$$" in body:
        raise UnsafeValue("a `$$` inside a `$$`-delimited body would end it early; values go through "
                          "`| literal`, which never writes `$$`")
    return f"$$\n{body}$$"


# --------------------------------------------------------------------------- statements

# One alternation, tried left to right at each position: the token kinds that can hide a `;`.
_TOKEN = re.compile(
    "|".join((
        r"(?P<string>'(?:[^'\\]|\\.|'')*(?:'|\Z))",  # 'it''s', 'a\'b': a backslash escapes any character
        r"(?P<dollar>\$\$.*?(?:\$\$|\Z))",            # $$ ... $$: no escapes at all
        r'(?P<ident>"(?:[^"]|"")*(?:"|\Z))',          # "Quoted ""name"""
        r"(?P<line>(?:--|//)[^\n]*)",                 # -- comment, // comment
        r"(?P<block>/\*.*?(?:\*/|\Z))",               # /* comment */ (not nested in Snowflake)
        r"(?P<semi>;)",
        r"(?P<other>[^'\"$;/\-]+|.)",                 # anything else, in runs
    )),
    re.DOTALL,
)


def split_statements(text: str) -> list[str]:
    """The statements in `text`, each without its `;`; comment-only or empty pieces are dropped.

    Unterminated strings, identifiers and comments run to the end of the text, as in Snowflake,
    so they can never make a `;` inside them count."""
    statements: list[str] = []
    start = 0
    has_code = False
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "semi":
            if has_code:
                statements.append(text[start:m.start()].strip())
            start, has_code = m.end(), False
        elif kind not in ("line", "block") and (kind != "other" or m.group().strip()):
            has_code = True
    if has_code:
        statements.append(text[start:].strip())
    return statements


def without_comments(text: str) -> str:
    """`text` without its `--`, `//` and `/* */` comments (strings and quoted names kept as they are), its
    whitespace runs made one space: what stays of a statement run by a client that strips comments
    (`snow sql`, SnowSQL)."""
    code = "".join(m.group() for m in _TOKEN.finditer(text) if m.lastgroup not in ("line", "block"))
    return " ".join(code.split())


def count_statements(text: str) -> int:
    return len(split_statements(text))


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0"}
# \ooo (octal), \xhh (hex) and \uhhhh (unicode) name a character by its code point.
_CODE_POINT = re.compile(r"[0-7]{3}|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}")


def string_value(text: str, *, backslash_escapes: bool = True) -> str | None:
    """The value of `text` when it is exactly one single-quoted string literal, else None. With
    backslash_escapes, read as Snowflake's lexer does (\\n, \\t, \\\\, \\' ...; any other escaped
    character stands for itself); without, only '' is special (DuckDB's spelling)."""
    text = text.strip()
    if len(text) < 2 or text[0] != "'" or text[-1] != "'":
        return None
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and backslash_escapes and i + 1 < len(body):
            code = _CODE_POINT.match(body, i + 1)
            if code is not None:
                digits = code.group()
                out.append(chr(int(digits, 8) if digits[0].isdigit() else int(digits[1:], 16)))
                i = code.end()
                continue
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        elif char == "'":
            if body[i + 1:i + 2] != "'":
                return None  # a lone quote: not one literal
            out.append("'")
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)
