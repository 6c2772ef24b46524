"""What lands: the columns of raw_import_rows and raw_import_people, people's keys and placeholder
addresses, and the Arrow helpers both readers build their batches with.

People are keyed without PII: a ServiceNow sys_id (32 hex digits) or a Jira accountId is kept as it
is (servicenow:<sys_id>, jira:<accountId>); any other value (a display name such as `Resolver 149`,
a Jira Server user name) becomes the first 32 hex digits of its SHA-256. Their address is a
placeholder under the reserved `.invalid` top-level domain (RFC 2606), derived from the key, e.g.
`4f1e...@servicenow.import.invalid`: users.email is NOT NULL and unique, imports carry no e-mail,
and such an address can never reach anyone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt

    import pyarrow as pa

ROWS_TABLE = "raw_import_rows"
PEOPLE_TABLE = "raw_import_people"
STRING_COLUMNS = ("source_key", "incident_number", "event_key", "state", "assignee_key", "assignment_group",
                  "updated_by_key", "caller_key", "opened_by_key", "resolved_by_key", "title", "description",
                  "category", "subcategory", "priority", "impact", "urgency", "contact_type", "closed_code",
                  "attributes", "other_fields", "error")
TIME_COLUMNS = ("event_at", "opened_at", "resolved_at", "closed_at", "first_response_at")
INT_COLUMNS = ("event_seq", "reassignment_count", "reopen_count")
BOOL_COLUMNS = ("is_record", "sla_met")
# What a person did, most telling first: users.role is the highest rank seen.
ROLE_RANK = {"customer": 0, "support_agent": 1, "engineer": 2}
MAX_NUMBER = 20  # incidents.incident_number is VARCHAR(20)
_SYS_ID = re.compile(r"[0-9a-f]{32}")
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:_-]{0,127}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def person_key(source: str, value: str, *, account_id: bool = False) -> str:
    """users.user_key of a person as the source names them (see the module's docstring)."""
    text = value.strip()
    if (source == "servicenow" and _SYS_ID.fullmatch(text)) or (account_id and _ACCOUNT_ID.fullmatch(text)):
        return f"{source}:{text}"
    return f"{source}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]}"


def person_email(user_key: str) -> str:
    """The placeholder address of an imported person: `<id>@<source>.import.invalid`."""
    source, _, ident = user_key.partition(":")
    return f"{ident.replace(':', '.')}@{source}.import.invalid"


@dataclass
class People:
    """Everyone a file names, by user_key: display name, highest role, first time seen."""

    source: str
    names: dict[str, str] = field(default_factory=dict)
    roles: dict[str, int] = field(default_factory=dict)
    first_seen: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, name: str, role: str, seen: dt.datetime | None) -> None:
        self.names[key] = name[:200]
        self.roles[key] = max(self.roles.get(key, 0), ROLE_RANK[role])
        if seen is not None and (key not in self.first_seen or seen < self.first_seen[key]):
            self.first_seen[key] = seen

    def table(self, load_id: str) -> pa.Table:
        import pyarrow as pa

        keys = sorted(self.names)
        ranks = {rank: role for role, rank in ROLE_RANK.items()}
        return pa.table({
            "load_id": pa.array([load_id] * len(keys), pa.string()),
            "user_key": pa.array(keys, pa.string()),
            "email": pa.array([person_email(k) for k in keys], pa.string()),
            "full_name": pa.array([self.names[k] for k in keys], pa.string()),
            "role": pa.array([ranks[self.roles[k]] for k in keys], pa.string()),
            "first_seen_at": pa.array([self.first_seen.get(k) for k in keys], pa.timestamp("ns")),
        })


def keys_of(source: str, values: pa.Array, *, account_id: bool = False) -> tuple[pa.Array, list[tuple[str, str]]]:
    """The user_key of every value (null stays null), and the (key, name) of each distinct value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    distinct = pc.unique(values).drop_null()
    names = [str(v) for v in distinct.to_pylist()]
    keys = [person_key(source, name, account_id=account_id) for name in names]
    mapped = pc.take(pa.array(keys, pa.string()), pc.index_in(values, value_set=distinct))
    return mapped, list(zip(keys, names, strict=True))


def json_text(column: pa.Array) -> pa.Array:
    """Each value as a JSON string literal (`"..."`), null as `null`; vectorised."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = column.cast(pa.string())
    if pc.any(pc.match_substring_regex(text, r'[\\"\x00-\x1f]')).as_py():  # most columns need no escaping
        for plain, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
            text = pc.replace_substring(text, plain, escaped)
        text = pc.replace_substring_regex(text, _CONTROL.pattern, " ")
    quoted = pc.binary_join_element_wise('"', text, '"', "")
    return pc.fill_null(quoted, "null")


def json_objects(columns: dict[str, pa.Array], length: int) -> pa.Array:
    """One JSON object per row from named string columns (`{"name":"value","other":null}`)."""
    import json

    import pyarrow as pa
    import pyarrow.compute as pc

    if not columns:
        return pa.nulls(length, pa.string())
    parts: list[Any] = []
    for i, (name, values) in enumerate(columns.items()):
        parts.append(("{" if i == 0 else ",") + json.dumps(name) + ":")
        parts.append(json_text(values))
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")


def constant(value: Any, length: int, kind: pa.DataType) -> pa.Array:
    import pyarrow as pa

    return pa.repeat(pa.scalar(value, kind), length) if value is not None else pa.nulls(length, kind)


def when_changed(values: pa.Array, group: pa.Array) -> pa.Array:
    """`values` where they differ from the row before of the same group (the first row of a group
    keeps its own), null elsewhere: an incident's fields that rarely change are stored once per change."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(values) < 2:
        return values
    same_group = pc.fill_null(pc.equal(group[1:], group[:-1]), False)
    same_value = pc.fill_null(pc.equal(values[1:], values[:-1]), False)
    keep = pa.concat_arrays([pa.array([True]), pc.invert(pc.and_(same_group, same_value))])
    return pc.if_else(keep, values, pa.nulls(len(values), values.type))


def landing_table(columns: dict[str, Any], length: int, common: dict[str, Any]) -> pa.Table:
    """Every raw_import_rows column in declared order, missing ones null."""
    import pyarrow as pa

    kinds = {**{c: pa.string() for c in STRING_COLUMNS}, **{c: pa.timestamp("ns") for c in TIME_COLUMNS},
             **{c: pa.int64() for c in INT_COLUMNS}, **{c: pa.bool_() for c in BOOL_COLUMNS}}
    arrays = {
        "load_id": constant(common["load_id"], length, pa.string()),
        "row_index": columns["row_index"],
        "landed_at": constant(common["landed_at"], length, pa.timestamp("ns")),
        "source": constant(common["source"], length, pa.string()),
        "file_name": constant(common["file_name"], length, pa.string()),
    }
    for name, kind in kinds.items():
        value = columns.get(name)
        arrays[name] = constant(None, length, kind) if value is None else _as(value, kind, length)
    return pa.table(arrays)


def _as(value: Any, kind: pa.DataType, length: int) -> pa.Array:
    import pyarrow as pa

    if isinstance(value, (pa.Array, pa.ChunkedArray)):
        return value.cast(kind)
    if isinstance(value, list):
        return pa.array(value, kind)
    return constant(value, length, kind)
