"""ServiceNow incident exports (CSV) -> raw_import_rows batches, read in blocks with bounded memory.

Both forms are one row per update of an incident: the audit event log has every update, the list
export only the latest; the pass treats them alike. Columns are the incident table's field names
(`number`, `incident_state`, `sys_mod_count`, `sys_updated_at`, `assigned_to` ...); `?` and empty
are missing. Arrow's streaming CSV reader parses a block at a time (every value as text), and each
block is turned into landing columns with Arrow compute kernels, never row by row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from incidents.errors import ConfigError
from incidents.importers import dates
from incidents.importers.landing import MAX_NUMBER, People, json_objects, keys_of, landing_table, when_changed

if TYPE_CHECKING:
    import pyarrow as pa

SOURCE = "servicenow"
DATE_COLUMNS = ("sys_updated_at", "sys_created_at", "opened_at", "resolved_at", "closed_at")
# (column, landing column, role): people become users; their names never land in a row.
PEOPLE = (("caller_id", "caller_key", "customer"), ("opened_by", "opened_by_key", "support_agent"),
          ("sys_updated_by", "updated_by_key", "support_agent"), ("assigned_to", "assignee_key", "engineer"),
          ("resolved_by", "resolved_by_key", "engineer"), ("sys_created_by", None, "support_agent"),
          ("closed_by", None, "engineer"))
TEXT = {"assignment_group": "assignment_group", "short_description": "title", "description": "description",
        "category": "category", "subcategory": "subcategory", "priority": "priority", "impact": "impact",
        "urgency": "urgency", "contact_type": "contact_type"}
# Known fields without a column of their own: incidents.metadata:import:fields keeps them.
ATTRIBUTES = ("active", "location", "u_symptom", "cmdb_ci", "knowledge", "u_priority_confirmation", "notify",
              "problem_id", "rfc", "vendor", "caused_by", "severity", "sys_id", "business_service", "escalation",
              "sys_created_at")
ALIASES = {"incident_state": ("incident_state", "state"), "closed_code": ("closed_code", "close_code")}
BLOCK_BYTES = 8 << 20  # ~30-60k rows of an incident export per batch
TRUE = ("true", "1", "yes", "y", "t")
FALSE = ("false", "0", "no", "n", "f")


@dataclass
class Reading:
    """What reading the file found, beside the batches."""

    order: str = ""
    rows: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    bytes_read: int = 0
    size: int = 0


class _Counting:
    """A binary file that counts what was read (progress through the file)."""

    def __init__(self, raw: BinaryIO, reading: Reading) -> None:
        self.raw, self.reading = raw, reading
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.reading.bytes_read += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
        self.raw.close()


def header(path: Path) -> list[str]:
    """The column names of the export (first line), lower-cased and stripped."""
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20))
    except OSError as exc:
        raise ConfigError(f"cannot read the export: {exc.strerror or exc}", file=str(path)) from None
    except Exception as exc:  # pyarrow.lib.ArrowInvalid: not CSV, empty
        raise ConfigError(f"not a CSV export: {str(exc).splitlines()[0]}", file=str(path)) from None
    return [str(name).lstrip("\ufeff").strip().lower() for name in reader.schema.names]  # a BOM is no name


def read(path: Path, *, load: dict[str, Any], people: People, date_format: str, timezone: str,
         reading: Reading, on_batch: Callable[[Reading], None] | None = None) -> Iterator[pa.Table]:
    """raw_import_rows batches of the export; `people` collects everyone named, `reading` the counts."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = header(path)
    if "number" not in names:
        raise ConfigError("the export has no `number` column: export the incident table with its field names as "
                          "column headers (number, incident_state, sys_updated_at, ...)", file=str(path))
    reading.size = path.stat().st_size
    reading.order = _order(path, names, date_format)
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in _raw_names(path)}, null_values=["", "?"],
                                   strings_can_be_null=True, quoted_strings_can_be_null=True)
    with path.open("rb") as raw:
        reader = pacsv.open_csv(_Counting(raw, reading), read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                                parse_options=pacsv.ParseOptions(newlines_in_values=True), convert_options=convert)
        for batch in _batches(reader, path):
            table = _landing(pa.Table.from_batches([batch]).rename_columns(names), load=load, people=people,
                             order=reading.order, timezone=timezone, first_row=reading.rows + 1, reading=reading)
            reading.rows += batch.num_rows
            if on_batch is not None:
                on_batch(reading)
            yield table


def _raw_names(path: Path) -> list[str]:
    import pyarrow.csv as pacsv

    return list(pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20)).schema.names)


def _batches(reader: Any, path: Path) -> Iterator[Any]:
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except Exception as exc:  # pyarrow.lib.ArrowInvalid: a row with the wrong number of fields
            raise ConfigError(f"not a well-formed CSV export: {str(exc).splitlines()[0]}", file=str(path)) from None
        yield batch


# --------------------------------------------------------------------------- the date order

def _order(path: Path, names: list[str], date_format: str) -> str:
    """The date order: given, or proven by the dates of the file (read up to where it is decided)."""
    if date_format != "auto":
        return date_format
    import pyarrow as pa
    import pyarrow.csv as pacsv

    present = [c for c in _raw_names(path) if c.strip().lower() in DATE_COLUMNS]
    if not present:
        return "iso"
    found: set[str] = set()
    sample: str | None = None
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                            parse_options=pacsv.ParseOptions(newlines_in_values=True),
                            convert_options=pacsv.ConvertOptions(
                                include_columns=present, column_types={c: pa.string() for c in present},
                                null_values=["", "?"], strings_can_be_null=True))
    for batch in _batches(reader, path):
        for column in batch.columns:
            values = column.drop_null().to_pylist()
            sample = sample or (values[0] if values else None)
            found |= dates.evidence(values)
        decided = dates.decide(found, sample)
        if decided is not None:
            return decided
    if sample is None:
        return "iso"  # no dates at all: every row is rejected for it anyway
    raise ConfigError(f"cannot tell day-first from month-first dates (no day above 12, e.g. {sample!r}); pass "
                      "--date-format day-first or month-first (or set servicenow.date_format in config/import.yml)",
                      key="--date-format")


# --------------------------------------------------------------------------- one block

def _landing(raw: pa.Table, *, load: dict[str, Any], people: People, order: str, timezone: str, first_row: int,
             reading: Reading) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = raw.num_rows
    col = {name: raw.column(name).combine_chunks() for name in raw.column_names}
    nothing = pa.nulls(n, pa.string())

    def text(name: str) -> pa.Array:
        for alias in ALIASES.get(name, (name,)):
            if alias in col:
                return pc.utf8_trim_whitespace(col[alias])
        return nothing

    out: dict[str, Any] = {"row_index": pa.array(range(first_row, first_row + n), pa.int64())}
    error = nothing
    parsed = {}
    for name in DATE_COLUMNS:
        stamps, bad = dates.parse_arrow(text(name), order, timezone)
        parsed[name] = stamps
        message = pc.binary_join_element_wise(f"{name} ", _quoted(text(name)), f" is not a date ({order})", "")
        error = pc.if_else(pc.and_(bad, pc.is_null(error)), message, error)
    event_at = pc.coalesce(parsed["sys_updated_at"], parsed["sys_created_at"], parsed["opened_at"])
    number = text("number")
    error = _first(error, pc.is_null(event_at), "no date: sys_updated_at, sys_created_at and opened_at are missing")
    error = _first(error, pc.greater(pc.utf8_length(number), MAX_NUMBER),
                   f"number is longer than {MAX_NUMBER} characters")
    error = _first(error, pc.is_null(number), "no number")
    seq = _integer(text("sys_mod_count"))
    out.update({
        "source_key": pc.binary_join_element_wise(f"{SOURCE}:", number, ""),
        "incident_number": number,
        "is_record": pa.array([True] * n),
        "event_at": event_at, "event_seq": seq,
        "state": text("incident_state"), "closed_code": text("closed_code"),
        "opened_at": parsed["opened_at"], "resolved_at": parsed["resolved_at"], "closed_at": parsed["closed_at"],
        "reassignment_count": _integer(text("reassignment_count")), "reopen_count": _integer(text("reopen_count")),
        "sla_met": _boolean(text("made_sla")),
    })
    out.update({landing: text(name) for name, landing in TEXT.items()})
    attributes = {name: text(name) for name in ATTRIBUTES if name in col}
    for name, landing, role in PEOPLE:
        if name not in col:
            continue
        keys, named = keys_of(SOURCE, text(name))
        if landing is None:
            attributes[name] = keys
        else:
            out[landing] = keys
        _meet(people, named, role, text(name), event_at)
    known = {a for names in ALIASES.values() for a in names} | set(TEXT) | set(ATTRIBUTES) | set(DATE_COLUMNS) | {
        p for p, _, _ in PEOPLE} | {"number", "sys_mod_count", "reassignment_count", "reopen_count", "made_sla"}
    unknown = {name: col[name] for name in raw.column_names if name not in known}
    rejected = pc.is_valid(error)
    # Stored where they change within an incident's rows: the pass takes the latest stored ones.
    out["attributes"] = when_changed(json_objects(attributes, n), number)
    out["other_fields"] = when_changed(json_objects(unknown, n), number) if unknown else pa.nulls(n, pa.string())
    if pc.any(rejected).as_py():  # a rejected row keeps every field it had
        everything = json_objects({name: pc.filter(values, rejected) for name, values in col.items()},
                                  pc.sum(rejected.cast(pa.int64())).as_py())
        out["other_fields"] = pc.replace_with_mask(out["other_fields"], rejected, everything)
    out["event_key"] = _event_keys(seq, event_at, rejected, out["other_fields"])
    out["error"] = error
    count = pc.sum(rejected.cast(pa.int64())).as_py() or 0
    if count:
        reading.rejected += count
        rows = pc.filter(out["row_index"], rejected).to_pylist()[:5]
        messages = pc.filter(error, rejected).to_pylist()[:5]
        reading.errors.extend(f"row {r}: {m}" for r, m in zip(rows, messages, strict=True))
    return landing_table(out, n, load)


def _first(error: pa.Array, condition: pa.Array, message: str) -> pa.Array:
    """`message` where `condition` holds and no earlier rule said anything."""
    import pyarrow.compute as pc

    return pc.if_else(pc.and_(pc.fill_null(condition, False), pc.is_null(error)), message, error)


def _quoted(values: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    return pc.binary_join_element_wise("'", pc.utf8_slice_codeunits(values, 0, 60), "'", "")


def _integer(values: pa.Array) -> pa.Array:
    """Whole numbers; anything else (a label, 1.5) is missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    whole = pc.fill_null(pc.match_substring_regex(values, r"^-?\d{1,15}$"), False)
    return pc.if_else(whole, values, pa.nulls(len(values), pa.string())).cast(pa.int64())


def _boolean(values: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    lower = pc.utf8_lower(values)
    return pc.if_else(pc.is_in(lower, pa.array(TRUE)), True,
                      pc.if_else(pc.is_in(lower, pa.array(FALSE)), False, pa.nulls(len(values), pa.bool_())))


def _event_keys(seq: pa.Array, event_at: pa.Array, rejected: pa.Array, other: pa.Array) -> pa.Array:
    """sys_mod_count@sys_updated_at: one update of one incident. A rejected row: a hash of its fields,
    so the same rejected row landed again is recognised."""
    import pyarrow as pa
    import pyarrow.compute as pc

    stamp = pc.strftime(event_at.cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
    key = pc.binary_join_element_wise(pc.fill_null(seq.cast(pa.string()), ""), "@", pc.fill_null(stamp, ""), "")
    if not pc.any(rejected).as_py():
        return key
    hashed = [f"rejected:{hashlib.sha256((text or '').encode('utf-8')).hexdigest()[:16]}" if bad else None
              for bad, text in zip(rejected.to_pylist(), other.to_pylist(), strict=True)]
    return pc.if_else(rejected, pa.array(hashed, pa.string()), key)


def _meet(people: People, named: list[tuple[str, str]], role: str, values: pa.Array, event_at: pa.Array) -> None:
    """Record everyone in one person column with the earliest time they appear."""
    import pyarrow as pa

    if not named:
        return
    seen = pa.table({"name": values, "at": event_at}).group_by("name").aggregate([("at", "min")])
    first = dict(zip(seen.column("name").to_pylist(), seen.column("at_min").to_pylist(), strict=True))
    for key, name in named:
        stamp: Any = first.get(name)
        people.add(key, name, role, stamp.to_pydatetime() if hasattr(stamp, "to_pydatetime") else stamp)
