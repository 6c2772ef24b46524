"""`incidents query` output streamed in bounded memory (issue 26.2): CSV and JSON written a chunk of rows at a
time, from Arrow record batches (the local target) or lists of row tuples (Snowflake).

The text is exactly what `output.rows_as_csv` / `QueryResult.to_json` print for the same rows (a test renders
both ways and compares): values as `output.cell` and `output.jsonable` + `output.dumps` write them (exact
decimals, integers without `.0` in CSV, NaN and infinities empty in CSV and null in JSON, ISO 8601 times, hex
binary), CSV quoted as Python's `csv` module quotes (only fields holding `,`, `"` or a newline; a row of one
empty field as `""`). Arrow batches are rendered column by column with pyarrow.compute and written from
the joined buffer, no Python object per row; the values Arrow would write differently (doubles outside
1e-4..1e9, binary, nested values, time zones other than UTC) go value by value through the same Python
functions.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

from incidents import output

if TYPE_CHECKING:
    import pyarrow

Chunk = Any  # a pyarrow.RecordBatch, or a list of row tuples
_UTC = ("UTC", "Etc/UTC", "+00:00", "Z")


# --------------------------------------------------------------------------- CSV

def csv_header(columns: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(columns)
    return buffer.getvalue()


def write_csv(columns: list[str], chunks: Iterable[Chunk], out: IO[bytes]) -> int:
    """The header, then every chunk's rows; returns the number of rows written."""
    out.write(csv_header(columns).encode())
    rows = 0
    for chunk in chunks:
        rows += _length(chunk)
        out.write(csv_chunk(chunk, len(columns)))
    return rows


def csv_chunk(chunk: Chunk, width: int) -> bytes:
    if isinstance(chunk, list):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in chunk:
            writer.writerow([output.cell(v, null="") for v in row])
        return buffer.getvalue().encode()
    if chunk.num_rows == 0 or chunk.num_columns == 0:
        return b"\n" * chunk.num_rows  # csv writes a row without fields as an empty line
    fields = [_csv_field(_cell_text(column)) if _may_need_quotes(column.type) else _cell_text(column)
              for column in chunk.columns]
    if width == 1:  # csv writes a row of one empty field as "" (else it would be an empty line)
        import pyarrow as pa
        import pyarrow.compute as pc

        fields = [pc.if_else(pc.equal(fields[0], ""), pa.scalar('""'), fields[0])]
    return _joined(fields, sep=",", end="\n")


def _may_need_quotes(kind: pyarrow.DataType) -> bool:
    """Numbers, booleans, dates and times never hold a comma, a quote or a newline in their CSV form."""
    import pyarrow as pa

    return not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
                or pa.types.is_boolean(kind) or pa.types.is_date(kind) or pa.types.is_timestamp(kind)
                or pa.types.is_time(kind))


def _csv_field(text: pyarrow.Array) -> pyarrow.Array:
    """Python csv's minimal quoting: a field holding a comma, a quote or a newline is quoted, quotes doubled."""
    import pyarrow as pa
    import pyarrow.compute as pc

    needs = pc.or_(pc.or_(pc.match_substring(text, ","), pc.match_substring(text, '"')),
                   pc.match_substring(text, "\n"))
    if not pc.any(needs).as_py():
        return text
    quote = pa.scalar('"')
    quoted = pc.binary_join_element_wise(quote, pc.replace_substring(text, '"', '""'), quote, "")
    return pc.if_else(needs, quoted, text)


def _cell_text(column: pyarrow.Array) -> pyarrow.Array:
    """`output.cell(value, null="")` of every value, as a string array without nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_boolean(kind):
        text = pc.if_else(column, "True", "False")
    elif pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_date(kind):
        text = pc.cast(column, pa.string())  # decimals keep their scale's digits, as format(Decimal, "f")
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pc.cast(column, pa.string())
    elif _iso_renderable(kind):
        text = _iso(column)
    elif pa.types.is_floating(kind):
        text = _float_text(column, for_json=False)
    else:
        text = pa.array([output.cell(v, null="") for v in column.to_pylist()], pa.string())
    return pc.fill_null(text, "")


def _iso_renderable(kind: pyarrow.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return kind.unit == "us" and (kind.tz is None or kind.tz in _UTC)
    return pa.types.is_time64(kind) and kind.unit == "us"


def _iso(column: pyarrow.Array) -> pyarrow.Array:
    """datetime/time.isoformat(): microseconds only when not zero, +00:00 for UTC timestamps. From Arrow's
    cast to text ("2026-01-02 03:04:05.000000", "Z" after a UTC one), 100x faster than its strftime."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    text = pc.cast(column, pa.string())
    utc = pa.types.is_timestamp(kind) and kind.tz is not None
    if utc:
        text = pc.utf8_slice_codeunits(text, 0, -1)  # the "Z"
    if pa.types.is_timestamp(kind):
        text = pc.replace_substring(text, " ", "T", max_replacements=1)
    text = pc.if_else(pc.ends_with(text, ".000000"), pc.utf8_slice_codeunits(text, 0, -7), text)
    return pc.binary_join_element_wise(text, pa.scalar("+00:00"), "") if utc else text


def _float_text(column: pyarrow.Array, *, for_json: bool) -> pyarrow.Array:
    """Doubles as Python writes them: `cell` (integers without .0, NaN and infinities null) or, for JSON,
    `repr` (integers with .0). Arrow's cast writes the same shortest digits in the same notation for
    1e-4 <= |x| < 1e9; integers are cast as integers; the few values outside both go through Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    x = pc.cast(column, pa.float64())
    finite = pc.is_finite(x)
    size = pc.abs(x)
    integral = pc.and_(finite, pc.equal(pc.floor(x), x))
    if for_json:  # repr: "3.0"; -0.0 and |x| >= 1e16 have their own forms
        as_int = pc.and_(integral, pc.and_(pc.less(size, 1e16), pc.not_equal(x, 0.0)))
    else:  # cell: str(int(x)) below 2**53
        as_int = pc.and_(integral, pc.less(size, 2.0**53))
    int_text = pc.cast(pc.cast(pc.if_else(as_int, x, 0.0), pa.int64()), pa.string())
    if for_json:
        int_text = pc.binary_join_element_wise(int_text, pa.scalar(".0"), "")
    plain = pc.and_(pc.and_(finite, pc.invert(integral)),
                    pc.and_(pc.greater_equal(size, 1e-4), pc.less(size, 1e9)))
    text = pc.if_else(as_int, int_text, pc.if_else(plain, pc.cast(x, pa.string()), pa.scalar(None, pa.string())))
    rest = pc.fill_null(pc.and_(finite, pc.invert(pc.or_(as_int, plain))), False)
    if pc.any(rest).as_py():
        render = repr if for_json else output.cell
        others = [render(v) for v in pc.filter(x, rest).to_pylist()]
        text = pc.replace_with_mask(text, rest, pa.array(others, pa.string()))
    return text


# --------------------------------------------------------------------------- JSON

def write_json(columns: list[str], chunks: Iterable[Chunk], out: IO[bytes]) -> int:
    """An array of objects keyed by column name, as `QueryResult.to_json()` prints it; returns the rows."""
    keys = output.unique_names(columns)
    rows = 0
    for chunk in chunks:
        n = _length(chunk)
        if not n:
            continue
        out.write(b"[\n" if rows == 0 else b",\n")
        out.write(json_chunk(keys, chunk))
        rows += n
    out.write(b"\n]\n" if rows else b"[]\n")
    return rows


def json_chunk(keys: list[str], chunk: Chunk) -> bytes:
    """The chunk's records at indent 2 inside the array, joined by ",\\n" (no leading or trailing separator)."""
    if isinstance(chunk, list):
        text = output.dumps([dict(zip(keys, row, strict=True)) for row in chunk])
        return text[2:-2].encode()  # without the array's own "[\n" and "\n]"
    if not keys:
        return ",\n".join(["  {}"] * chunk.num_rows).encode()
    parts: list[Any] = []
    for i, (key, column) in enumerate(zip(keys, chunk.columns, strict=True)):
        lead = "  {\n    " if i == 0 else ",\n    "
        parts += [f"{lead}{json.dumps(key)}: ", _json_text(column)]
    parts.append("\n  }")
    return _joined(parts, sep="", end=",\n")[:-2]


def _json_text(column: pyarrow.Array) -> pyarrow.Array:
    """Each value as JSON text the way `output.dumps` writes it (null for NULL)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_boolean(kind):
        text = pc.if_else(column, "true", "false")
    elif pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        text = pc.cast(column, pa.string())
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _json_strings(pc.cast(column, pa.string()))
    elif pa.types.is_date(kind) or _iso_renderable(kind):
        quote = pa.scalar('"')
        text = pc.binary_join_element_wise(quote, pc.cast(column, pa.string()) if pa.types.is_date(kind)
                                           else _iso(column), quote, "")
    elif pa.types.is_floating(kind):
        text = _float_text(column, for_json=True)
    else:
        text = pa.array([_json_value(v) for v in column.to_pylist()], pa.string())
    return pc.fill_null(text, "null")


def _json_strings(text: pyarrow.Array) -> pyarrow.Array:
    """json.dumps of each string: printable ASCII without quote or backslash is only quoted; the rest (control
    characters, non-ASCII written as \\u escapes) goes through json.dumps itself."""
    import pyarrow as pa
    import pyarrow.compute as pc

    quote = pa.scalar('"')
    quoted = pc.binary_join_element_wise(quote, text, quote, "")
    special = pc.match_substring_regex(text, r'[^\x20\x21\x23-\x5b\x5d-\x7e]')
    if not pc.any(special).as_py():
        return quoted
    escaped = [json.dumps(s) if s is not None and flag else None
               for s, flag in zip(text.to_pylist(), special.to_pylist(), strict=True)]
    return pc.if_else(special, pa.array(escaped, pa.string()), quoted)


def _json_value(value: Any) -> str:
    """One value as `output.dumps` writes it inside a record at indent 2 (nested values indented further)."""
    return output.dumps(value, indent=2).replace("\n", "\n    ")


# --------------------------------------------------------------------------- shared

def _joined(parts: list[Any], *, sep: str, end: str) -> bytes:
    """The element-wise join of `parts` (arrays and literal strings) by `sep`, each row followed by `end`, as
    the bytes of all rows: the data buffer of the joined array (no Python object per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in parts]
    values[-1] = pc.binary_join_element_wise(values[-1], pa.scalar(end, pa.string()), "")
    lines = pc.binary_join_element_wise(*values, sep) if len(values) > 1 else values[0]
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = lines.buffers()[1]
    first, last = (int.from_bytes(offsets[i * 4:i * 4 + 4], "little", signed=True)
                   for i in (lines.offset, lines.offset + len(lines)))
    return lines.buffers()[2][first:last].to_pybytes() if last > first else b""


def _length(chunk: Chunk) -> int:
    return len(chunk) if isinstance(chunk, list) else int(chunk.num_rows)


def rows_of(chunk: Chunk) -> list[tuple[Any, ...]]:
    """A chunk's rows as tuples (for the terminal table)."""
    if isinstance(chunk, list):
        return chunk
    if chunk.num_columns == 0:
        return [() for _ in range(chunk.num_rows)]
    return list(zip(*(column.to_pylist() for column in chunk.columns), strict=True))


def in_row_groups(chunks: Iterable[Chunk], size: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows regrouped into lists of `size` (the last may be shorter), for output that lays out a group."""
    group: list[tuple[Any, ...]] = []
    for chunk in chunks:
        for row in rows_of(chunk):
            group.append(row)
            if len(group) == size:
                yield group
                group = []
    if group:
        yield group

