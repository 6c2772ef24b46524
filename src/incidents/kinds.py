"""The vocabularies diff, plan and deploy speak, as str enums, and what each backend can store.

Every member is a `str` equal to its value, prints and formats as its bare value and is written to
JSON and the history table as that text, so output, JSON and history rows read exactly as the bare
strings they replace.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class _Text(str, enum.Enum):
    """A str enum that reads as its value everywhere text is made (str, f-strings, format)."""

    # Python 3.10's Enum hashes by member name; hash by value so plain strings find members in dicts and sets.
    __hash__ = str.__hash__

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class ChangeKind(_Text):
    """One kind of difference between declared and live, in the order a report lists them."""

    MISSING_DATABASE = "missing_database"
    MISSING_SCHEMA = "missing_schema"
    MISSING_TABLE = "missing_table"
    UNEXPECTED_TABLE = "unexpected_table"
    MISSING_COLUMN = "missing_column"
    RENAMED_COLUMN = "renamed_column"
    UNEXPECTED_COLUMN = "unexpected_column"
    TYPE_CHANGED = "type_changed"
    NULLABILITY_CHANGED = "nullability_changed"
    DEFAULT_CHANGED = "default_changed"
    COMMENT_CHANGED = "comment_changed"
    TABLE_COMMENT_CHANGED = "table_comment_changed"
    CONFIG_CHANGED = "config_changed"
    MISSING_VIEW = "missing_view"
    CHANGED_VIEW = "changed_view"
    UNEXPECTED_VIEW = "unexpected_view"
    VIEW_NOT_COMPARABLE = "view_not_comparable"  # the target hid the view's text: neither in sync nor drift
    # Access (Snowflake only): roles and grants as SHOW GRANTS reports them; policies, tags, streams,
    # procedures and tasks through the checksum deploy recorded.
    MISSING_ROLE = "missing_role"
    MISSING_GRANT = "missing_grant"
    UNEXPECTED_GRANT = "unexpected_grant"
    MISSING_ACCESS_OBJECT = "missing_access_object"
    CHANGED_ACCESS_OBJECT = "changed_access_object"


class ObjectKind(_Text):
    DATABASE = "database"
    SCHEMA = "schema"
    TABLE = "table"
    COLUMN = "column"
    VIEW = "view"
    REFERENCE_DATA = "reference_data"
    DEPLOY = "deploy"  # the history row that says a deploy ended (object: DATABASE.SCHEMA)
    ROLE = "role"
    GRANT = "grant"  # object: the functional role the grants are to
    MASKING_POLICY = "masking_policy"  # also "<table>.pii": the policies and tags set on a table's PII columns
    TAG = "tag"
    SECURE_VIEW = "secure_view"  # Standard Edition: a table with its PII masked
    STREAM = "stream"
    PROCEDURE = "procedure"
    TASK = "task"


DEPLOY_MARKER = ObjectKind.DEPLOY


class Action(_Text):
    """What a step does to its object."""

    CREATE = "create"
    ALTER = "alter"
    REPLACE = "replace"
    MERGE = "merge"    # reference rows: insert the missing keys
    DROP = "drop"
    RECORD = "record"  # no statement: only the checksum is recorded
    FINISH = "finish"  # the deploy ended (its last history row)
    GRANT = "grant"
    REVOKE = "revoke"


class StepStatus(_Text):
    OK = "ok"
    FAILED = "failed"
    REFUSED = "refused"
    PLANNED = "planned"  # dry run


class Backend(_Text):
    LOCAL = "local"
    SNOWFLAKE = "snowflake"


@dataclass(frozen=True)
class Capabilities:
    """What a backend stores as declared: diff calls a difference drift only where the backend could
    have kept the declared value."""

    keeps_table_comments: bool
    keeps_column_comments: bool
    # VARCHAR and BINARY lengths, TIMESTAMP_LTZ, OBJECT and ARRAY, timestamp precision (see sqltypes.same_on_backend).
    keeps_exact_types: bool

    @classmethod
    def for_backend(cls, backend: Backend | str) -> Capabilities:
        return FAKESNOW if Backend(backend) is Backend.LOCAL else SNOWFLAKE

    @classmethod
    def for_target(cls, backend: Backend | str, *, emulated: bool) -> Capabilities:
        """fakesnow's capabilities whenever fakesnow answers, also behind the Snowflake connector (a
        fakesnow server on loopback)."""
        return FAKESNOW if emulated else cls.for_backend(backend)

    @classmethod
    def of(cls, target: Capabilities | Backend | str) -> Capabilities:
        """Capabilities as given, or those of a backend named the old way ("local", "snowflake")."""
        return target if isinstance(target, Capabilities) else cls.for_backend(target)


# fakesnow forgets column comments and VARCHAR lengths when a database is reopened, reports
# TIMESTAMP_LTZ as TIMESTAMP_TZ and OBJECT/ARRAY as VARIANT; comments are not compared on it at all.
FAKESNOW = Capabilities(keeps_table_comments=False, keeps_column_comments=False, keeps_exact_types=False)
SNOWFLAKE = Capabilities(keeps_table_comments=True, keeps_column_comments=True, keeps_exact_types=True)
