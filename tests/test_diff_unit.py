"""diff() without a database: the repository's declared state against hand-built live states, for
each kind of drift, on both backends' capabilities (and the backend names callers still pass)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from incidents.engine.desired import desired_state
from incidents.engine.diff import diff
from incidents.kinds.base import (
    FAKESNOW,
    SNOWFLAKE,
    Backend,
    Capabilities,
    Change,
    DesiredState,
    HistoryEntry,
    LiveColumn,
    LiveState,
    LiveTable,
)
from incidents.kinds.containers import DATABASE
from incidents.kinds.namespace import CHANGED_VIEW, COLUMN, VIEW
from incidents.kinds.table import DEFAULT_CHANGED, MISSING_COLUMN, RENAMED_COLUMN, UNEXPECTED_COLUMN
from incidents.kinds.view import fingerprint
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import HISTORY_TABLE, Table
from incidents.sql import types as sqltypes
from incidents.sql.text import without_comments
from live_states import in_sync, tables, views, with_tables

REPO = Path(__file__).resolve().parents[1]
BOTH = pytest.mark.parametrize("caps", [FAKESNOW, SNOWFLAKE], ids=["fakesnow", "snowflake"])


@pytest.fixture(scope="module")
def desired() -> DesiredState:
    project = load_project(REPO)
    return desired_state(Deployment(project, environment(project, "dev")))


def set_column(live: LiveState, table: str, column: str, **fields: object) -> None:
    columns = live.tables[table].columns
    columns[column] = dataclasses.replace(columns[column], **fields)  # type: ignore[arg-type]


def rename_column(desired: DesiredState, table: str, old: str, new: str) -> DesiredState:
    """`desired` with one column of `table` declared as `new` (renamed_from: old)."""
    def renamed(t: Table) -> Table:
        return dataclasses.replace(t, columns=tuple(
            dataclasses.replace(c, name=new, renamed_from=old) if c.name == old else c for c in t.columns))
    return with_tables(desired, tuple(
        (renamed(t) if t.name == table else t, r) for t, r in tables(desired)))


def kinds(changes: list[Change]) -> list[tuple[str, str, str | None]]:
    return [(c.kind, c.object, c.column) for c in changes]


def test_empty_account_misses_every_object_in_declared_order(desired: DesiredState) -> None:
    changes = diff(desired, LiveState(), SNOWFLAKE)
    assert kinds(changes) == [
        ("missing_database", "INCIDENTS", None), ("missing_schema", "CORE", None),
        *(("missing_table", t.name, None) for t, _ in tables(desired)), ("missing_table", HISTORY_TABLE, None),
        *(("missing_view", v.name, None) for v, _ in views(desired)),
        *(("missing_dynamic_table", d.name, None) for d in desired.of("dynamic_table"))]
    assert not any(c.destructive for c in changes)
    assert changes[0].object_kind is DATABASE and changes[-1].object_kind == "dynamic_table"


def test_existing_database_without_schema_misses_the_schema_and_not_the_database(desired: DesiredState) -> None:
    changes = diff(desired, LiveState(database_exists=True), SNOWFLAKE)
    assert kinds(changes)[:2] == [("missing_schema", "CORE", None), ("missing_table", "change_events", None)]


@BOTH
def test_in_sync_has_no_changes(desired: DesiredState, caps: Capabilities) -> None:
    assert diff(desired, in_sync(desired), caps) == []


@BOTH
def test_missing_column_on_an_empty_table_is_safe(desired: DesiredState, caps: Capabilities) -> None:
    live = in_sync(desired)
    del live.tables["INCIDENT_COMMENTS"].columns["EDITED_AT"]
    assert diff(desired, live, caps) == [Change(MISSING_COLUMN, COLUMN, "incident_comments",
                                                "edited_at", declared="TIMESTAMP_NTZ(9)",
                                                detail="column does not exist")]


def test_not_null_column_without_default_cannot_be_added_to_a_table_with_rows(desired: DesiredState) -> None:
    live = in_sync(desired)
    del live.tables["INCIDENT_COMMENTS"].columns["COMMENT_TYPE"]
    live.tables["INCIDENT_COMMENTS"] = dataclasses.replace(live.tables["INCIDENT_COMMENTS"], row_count=3)
    [change] = diff(desired, live, SNOWFLAKE)
    assert (change.kind, change.column, change.destructive) == ("missing_column", "comment_type", True)
    assert change.detail.startswith("a NOT NULL column without a default cannot be added to a table with rows")


@BOTH
def test_unexpected_column_is_destructive_and_keeps_its_live_name(desired: DesiredState, caps: Capabilities) -> None:
    live = in_sync(desired)
    live.tables["USERS"].columns["Nick name"] = LiveColumn("Nick name", sqltypes.parse("VARCHAR(20)"), True, None, None)
    assert diff(desired, live, caps) == [Change(UNEXPECTED_COLUMN, COLUMN, "users", "Nick name",
                                                live="VARCHAR(20)", destructive=True,
                                                detail="column is not declared; dropping it loses its data")]


@pytest.mark.parametrize(("live_type", "destructive", "detail"), [
    ("VARCHAR(10)", False, "widening is done in place"),
    ("VARCHAR(50)", True, "not a widening (narrower, other family or other scale)"),
    ("NUMBER(10,0)", True, "not a widening (narrower, other family or other scale)"),
])
def test_type_widening_is_safe_and_narrowing_is_not(desired: DesiredState, live_type: str, destructive: bool,
                                                    detail: str) -> None:
    live = in_sync(desired)
    set_column(live, "INCIDENT_COMMENTS", "COMMENT_TYPE", type=sqltypes.parse(live_type))
    [change] = diff(desired, live, SNOWFLAKE)
    assert (change.kind, change.column, change.declared, change.live) == (
        "type_changed", "comment_type", "VARCHAR(20)", live_type)
    assert change.destructive is destructive
    assert change.detail.startswith(detail)


@pytest.mark.parametrize(("caps", "drift"), [(FAKESNOW, False), (SNOWFLAKE, True)], ids=["fakesnow", "snowflake"])
def test_a_varchar_length_fakesnow_forgot_is_drift_only_where_lengths_are_kept(
        desired: DesiredState, caps: Capabilities, drift: bool) -> None:
    live = in_sync(desired)
    set_column(live, "INCIDENT_COMMENTS", "COMMENT_TYPE", type=sqltypes.parse(f"VARCHAR({sqltypes.MAX_VARCHAR})"))
    expected = [("type_changed", "incident_comments", "comment_type")] if drift else []
    assert kinds(diff(desired, live, caps)) == expected


@pytest.mark.parametrize(("caps", "expected"), [
    (FAKESNOW, []),
    (SNOWFLAKE, [("comment_changed", "users", "email"), ("table_comment_changed", "users", None)]),
], ids=["fakesnow", "snowflake"])
def test_comments_are_compared_only_where_the_backend_keeps_them(
        desired: DesiredState, caps: Capabilities, expected: list[tuple[str, str, str | None]]) -> None:
    live = in_sync(desired)
    set_column(live, "USERS", "EMAIL", comment=None)
    live.tables["USERS"] = dataclasses.replace(live.tables["USERS"], comment="edited by hand")
    assert kinds(diff(desired, live, caps)) == expected


@pytest.mark.parametrize(("backend", "caps"), [
    ("local", FAKESNOW), ("snowflake", SNOWFLAKE), (Backend.LOCAL, FAKESNOW), (Backend.SNOWFLAKE, SNOWFLAKE)])
def test_a_backend_name_still_picks_that_backends_rules(desired: DesiredState, backend: str,
                                                        caps: Capabilities) -> None:
    live = in_sync(desired)
    set_column(live, "USERS", "EMAIL", comment=None)
    assert diff(desired, live, backend) == diff(desired, live, caps)
    assert Capabilities.of(backend) is caps
    assert Capabilities.for_target(backend, emulated=True) is FAKESNOW


@BOTH
def test_renamed_column_is_one_rename_not_a_drop_and_an_add(desired: DesiredState, caps: Capabilities) -> None:
    renamed = rename_column(desired, "incident_comments", "edited_at", "modified_at")
    assert diff(renamed, in_sync(desired), caps) == [Change(
        RENAMED_COLUMN, COLUMN, "incident_comments", "modified_at", declared="modified_at",
        live="edited_at", detail="rename edited_at to modified_at (renamed_from)")]


def test_scratch_column_of_an_interrupted_rebuild_is_renamed_back(desired: DesiredState) -> None:
    live = in_sync(desired)
    columns = live.tables["INCIDENT_COMMENTS"].columns
    columns["EDITED_AT__INCIDENTS_REBUILD"] = dataclasses.replace(columns.pop("EDITED_AT"),
                                                                  name="EDITED_AT__INCIDENTS_REBUILD")
    [change] = diff(desired, live, SNOWFLAKE)
    assert (change.kind, change.column, change.live, change.destructive) == (
        "renamed_column", "edited_at", "edited_at__incidents_rebuild", False)


def test_a_leftover_scratch_column_is_dropped_without_loss(desired: DesiredState) -> None:
    live = in_sync(desired)
    live.tables["INCIDENT_COMMENTS"].columns["BODY__INCIDENTS_REBUILD"] = LiveColumn(
        "BODY__INCIDENTS_REBUILD", sqltypes.parse("VARCHAR"), True, None, None)
    [change] = diff(desired, live, SNOWFLAKE)
    assert (change.kind, change.column, change.destructive) == ("unexpected_column", "BODY__INCIDENTS_REBUILD", False)


@pytest.mark.parametrize(("history", "detail"), [
    (lambda entry: HistoryEntry("another checksum", entry.fingerprint), "view definition changed in templates/config"),
    (lambda entry: HistoryEntry(entry.checksum, "another fingerprint"), "view was replaced outside incidents"),
    (lambda entry: None, "view was not created by incidents deploy"),
])
def test_changed_view_says_why(desired: DesiredState, history: Callable[[HistoryEntry], HistoryEntry | None],
                               detail: str) -> None:
    live = in_sync(desired)
    key = ("view", "V_INCIDENT_HEATMAP")
    entry = history(live.history[key])
    if entry is None:
        del live.history[key]
        live.views["V_INCIDENT_HEATMAP"] = "CREATE VIEW V_INCIDENT_HEATMAP AS SELECT 1 AS made_by_hand"
    else:
        live.history[key] = entry
    assert diff(desired, live, FAKESNOW) == [Change(CHANGED_VIEW, VIEW, "v_incident_heatmap",
                                                    detail=detail)]


def test_a_view_without_history_whose_code_is_the_statement_is_in_sync(desired: DesiredState) -> None:
    """Made by the committed files through a client that strips comments (snow sql -f setup.sql)."""
    live = in_sync(desired)
    del live.history[("view", "V_INCIDENT_HEATMAP")]
    [view] = [v for v in desired.of(VIEW) if v.name == "v_incident_heatmap"]
    live.views["V_INCIDENT_HEATMAP"] = without_comments(view.statements[0])
    assert diff(desired, live, SNOWFLAKE) == []


def test_a_view_the_backend_rewrote_is_not_drift_while_its_fingerprint_matches(desired: DesiredState) -> None:
    live = in_sync(desired)
    live.views["V_INCIDENT_HEATMAP"] = "create view  v_incident_heatmap as select 1"
    live.history[("view", "V_INCIDENT_HEATMAP")] = HistoryEntry(live.history[("view", "V_INCIDENT_HEATMAP")].checksum,
                                                           fingerprint("create view v_incident_heatmap as select 1"))
    assert diff(desired, live, SNOWFLAKE) == []


@BOTH
def test_stray_view_in_the_way_of_a_table(desired: DesiredState, caps: Capabilities) -> None:
    live = in_sync(desired)
    del live.tables["INCIDENT_ATTACHMENTS"]
    live.views["INCIDENT_ATTACHMENTS"] = "SELECT 1 AS X"
    changes = diff(desired, live, caps)
    assert kinds(changes) == [("missing_table", "incident_attachments", None),
                              ("unexpected_view", "INCIDENT_ATTACHMENTS", None)]
    assert [c.destructive for c in changes] == [False, True]


def test_stray_tables_are_reported_sorted_with_their_rows_and_the_tools_own_tables_are_not(
        desired: DesiredState) -> None:
    live = in_sync(desired)
    for name in ("ZZ", "MM", "QQ", "BB", "stray"):
        live.tables[name] = LiveTable(name, {}, None, None)
    live.tables["AA"] = LiveTable("AA", {}, 7, None)
    changes = diff(desired, live, SNOWFLAKE)
    assert [(c.kind, c.object, c.live, c.destructive) for c in changes] == [
        ("unexpected_table", "AA", "7 rows", True),
        *(("unexpected_table", name, None, True) for name in ("BB", "MM", "QQ", "ZZ", "stray"))]


def test_missing_history_table_comes_after_the_declared_tables(desired: DesiredState) -> None:
    live = in_sync(desired)
    del live.tables[HISTORY_TABLE.upper()]
    del live.tables["USERS"]
    assert kinds(diff(desired, live, SNOWFLAKE)) == [("missing_table", "users", None),
                                                     ("missing_table", HISTORY_TABLE, None)]


def test_config_change_no_column_shows_is_found_by_checksum(desired: DesiredState) -> None:
    live = in_sync(desired)
    live.history[("table", "USERS")] = HistoryEntry("older checksum", None)
    live.history[("reference_data", "SLA_POLICIES")] = HistoryEntry("older checksum", None)
    changes = diff(desired, live, SNOWFLAKE)
    assert [(c.kind, c.object_kind, c.object) for c in changes] == [
        ("config_changed", "table", "users"), ("config_changed", "reference_data", "sla_policies")]


def test_changes_serialise_as_the_bare_strings(desired: DesiredState) -> None:
    live = in_sync(desired)
    del live.tables["INCIDENT_COMMENTS"].columns["EDITED_AT"]
    [change] = diff(desired, live, SNOWFLAKE)
    assert change.as_dict() == {"kind": "missing_column", "object_kind": "column", "object": "incident_comments",
                                "column": "edited_at", "declared": "TIMESTAMP_NTZ(9)", "live": None,
                                "destructive": False, "detail": "column does not exist"}
    assert (str(change.kind), f"{change.object_kind}") == ("missing_column", "column")


@BOTH
def test_a_function_default_in_the_backends_own_spelling_is_no_drift(desired: DesiredState, caps: Capabilities) -> None:
    """Deploy records the text the backend reported for a function default; diff compares against it, so no
    spelling of the backend's (Snowflake writes casts out) reads as drift, and a default changed since does."""
    from incidents.kinds.table import default_digest

    live = in_sync(desired)
    stored = "WHATEVER_THE_BACKEND_STORES(SYSDATE())"
    set_column(live, "USERS", "CREATED_AT", default="WHATEVER_THE_BACKEND_STORES(SYSDATE", default_text=stored)
    assert [c.kind for c in diff(desired, live, caps)] == [DEFAULT_CHANGED]  # nothing recorded: drift
    live.history[("column", "USERS.CREATED_AT")] = HistoryEntry(default_digest("SYSDATE()"), default_digest(stored))
    assert diff(desired, live, caps) == []
    live.history[("column", "USERS.CREATED_AT")] = HistoryEntry(default_digest("CURRENT_TIMESTAMP()"),
                                                                default_digest(stored))
    [change] = diff(desired, live, caps)  # the declared default changed since the record
    assert (change.kind, change.blocked) == (DEFAULT_CHANGED, True)
    assert "literal defaults" in change.detail


@pytest.mark.parametrize("stored", [
    "CAST(CONVERT_TIMEZONE('UTC', CAST(CURRENT_TIMESTAMP() AS TIMESTAMP_TZ(9))) AS TIMESTAMP_NTZ(9))",
    "timezone('UTC', CURRENT_TIMESTAMP)"])
def test_sysdate_in_snowflakes_and_fakesnows_stored_form_is_no_drift_without_a_record(
        desired: DesiredState, stored: str) -> None:
    from incidents.kinds.table import normalise_default

    live = in_sync(desired)
    set_column(live, "USERS", "CREATED_AT", default=normalise_default(stored), default_text=stored)
    assert diff(desired, live, SNOWFLAKE) == []


def test_timestamp_precision_is_not_compared_it_is_not_introspected() -> None:
    assert sqltypes.same_on_backend(sqltypes.parse("TIMESTAMP_NTZ(3)"), sqltypes.parse("TIMESTAMP_NTZ(9)"),
                                    "snowflake")
    assert not sqltypes.same_on_backend(sqltypes.parse("TIMESTAMP_NTZ(3)"), sqltypes.parse("TIMESTAMP_TZ(3)"),
                                        "snowflake")


def test_a_rebuild_of_a_key_column_is_refused_with_the_reason(desired: DesiredState) -> None:
    from incidents.engine.plan import plan

    live = in_sync(desired)
    set_column(live, "USERS", "USER_ID", type=sqltypes.parse("VARCHAR(20)"))
    [change] = diff(desired, live, SNOWFLAKE)
    assert change.blocked and "PRIMARY KEY" in change.detail
    [step] = plan(desired, live, [change], allow_destructive=True)
    assert step.refused is not None and "PRIMARY KEY" in step.refused and "--allow-destructive" not in step.refused


@pytest.mark.parametrize(("live_text", "drift"), [
    ("'C:\\temp\\x'", False),       # DuckDB keeps the characters as they are
    ("'C:\\\\temp\\\\x'", False),   # Snowflake's own escaped spelling
    ("'C:/temp/x'", True),          # another value
])
def test_a_backslash_string_default_is_compared_by_value_in_either_spelling(desired: DesiredState, live_text: str,
                                                                            drift: bool) -> None:
    table = next(t for t, _ in tables(desired) if t.name == "users")
    path = dataclasses.replace(table.column("timezone"), name="path_hint", default="'C:\\\\temp\\\\x'")
    changed = with_tables(desired, tuple(
        (dataclasses.replace(t, columns=(*t.columns, path)) if t.name == "users" else t, r)
        for t, r in tables(desired)))
    live = in_sync(changed)  # no history row of the column's default: the fallback comparison
    set_column(live, "USERS", "PATH_HINT", default_text=live_text, default=live_text)
    assert kinds(diff(changed, live, SNOWFLAKE)) == ([("default_changed", "users", "path_hint")] if drift else [])


@pytest.mark.parametrize(("live_key", "expected"), [
    (None, []),  # the target does not report clustering keys (fakesnow): never drift
    ("LINEAR(TO_DATE(LANDED_AT))", []),  # Snowflake's spelling of the declared key
    ("", [("dropped_clustering_key", "raw_import_rows", None)]),
    ("LINEAR(LOAD_ID)", [("clustering_key_changed", "raw_import_rows", None)]),
])
def test_a_clustering_key_is_compared_by_its_columns_where_the_target_reports_it(
        desired: DesiredState, live_key: str | None, expected: list[tuple[str, str, None]]) -> None:
    live = in_sync(desired)
    live.tables["RAW_IMPORT_ROWS"] = dataclasses.replace(live.tables["RAW_IMPORT_ROWS"], clustering_key=live_key)
    assert kinds(diff(desired, live, SNOWFLAKE)) == expected


def test_an_undeclared_clustering_key_is_drift_on_a_table_declaring_none(desired: DesiredState) -> None:
    live = in_sync(desired)
    live.tables["USERS"] = dataclasses.replace(live.tables["USERS"], clustering_key="LINEAR(EMAIL)")
    [change] = diff(desired, live, SNOWFLAKE)
    assert (change.kind, change.object, change.declared, change.live) == (
        "clustering_key_changed", "users", None, "LINEAR(EMAIL)")
