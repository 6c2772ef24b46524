"""plan() without a database: the steps for the repository's declared state against hand-built live
states (changes from diff on Snowflake's capabilities): kinds, actions, order, statements, which
steps are destructive or refused, and which record the checksum."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from incidents.engine.desired import desired_state
from incidents.engine.diff import diff
from incidents.engine.plan import plan
from incidents.kinds.base import (
    ALTER,
    SNOWFLAKE,
    DesiredState,
    HistoryEntry,
    LiveColumn,
    LiveState,
    LiveTable,
    Step,
)
from incidents.kinds.namespace import TABLE
from incidents.kinds.table import MISSING_COLUMN
from incidents.project.config import environment, load_project
from incidents.project.deployment import Deployment
from incidents.project.models import HISTORY_TABLE, Project
from incidents.sql import types as sqltypes
from live_states import in_sync, tables, views, with_tables

REPO = Path(__file__).resolve().parents[1]
FQ = "INCIDENTS.CORE."
AGAIN = "; rerun with --allow-destructive to apply it"


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(REPO)


@pytest.fixture(scope="module")
def desired(project: Project) -> DesiredState:
    return desired_state(Deployment(project, environment(project, "dev")))


def steps_for(project: Project, desired: DesiredState, live: LiveState, *, allow_destructive: bool = False,
              ) -> list[Step]:
    return plan(desired, live, diff(desired, live, SNOWFLAKE), allow_destructive=allow_destructive)


def summary(steps: list[Step]) -> list[tuple[str, str, str, bool, bool]]:
    """(kind, object, action, destructive, runs) of each step."""
    return [(s.object_kind, s.object, s.action, s.destructive, s.runs) for s in steps]


def checksum_of(desired: DesiredState, table: str) -> str:
    return next(r.checksum for t, r in tables(desired) if t.name == table)


def test_empty_account_creates_everything_containers_first_views_last(project: Project,
                                                                       desired: DesiredState) -> None:
    steps = steps_for(project, desired, LiveState())
    assert summary(steps) == [
        ("database", "INCIDENTS", "create", False, True), ("schema", "CORE", "create", False, True),
        ("table", HISTORY_TABLE, "create", False, True),
        *(("table", t.name, "create", False, True) for t, _ in tables(desired)),
        *(("reference_data", r.name, "merge", False, True) for r in desired.of("reference_data")),
        *(("view", v.name, "create", False, True) for v, _ in views(desired)),
        *(("dynamic_table", d.name, "create", False, True) for d in desired.of("dynamic_table"))]
    everything = [*desired.of("database"), *desired.of("schema"), *desired.of("history_table"),
                  *(r for _, r in tables(desired)),
                  *desired.of("reference_data"), *(r for _, r in views(desired)), *desired.of("dynamic_table")]
    assert [s.statements for s in steps] == [(r.statements[0],) for r in everything]
    assert [s.checksum for s in steps] == [r.checksum for r in everything]


@pytest.mark.parametrize("allow_destructive", [False, True])
def test_in_sync_plans_nothing(project: Project, desired: DesiredState, allow_destructive: bool) -> None:
    assert steps_for(project, desired, in_sync(desired), allow_destructive=allow_destructive) == []


def test_missing_column_is_one_alter_that_records_the_table_checksum(project: Project,
                                                                      desired: DesiredState) -> None:
    live = in_sync(desired)
    del live.tables["INCIDENT_COMMENTS"].columns["EDITED_AT"]
    [step] = steps_for(project, desired, live)
    assert summary([step]) == [("table", "incident_comments", "alter", False, True)]
    assert step.statements == (f"ALTER TABLE {FQ}INCIDENT_COMMENTS ADD COLUMN EDITED_AT TIMESTAMP_NTZ(9) "
                               "COMMENT 'When it was last edited (UTC); NULL if never.';",)
    assert step.checksum == checksum_of(desired, "incident_comments")
    assert [c.kind for c in step.changes] == [MISSING_COLUMN]


def test_missing_not_null_column_on_a_table_with_rows_is_refused_even_when_allowed(
        project: Project, desired: DesiredState) -> None:
    live = in_sync(desired)
    del live.tables["INCIDENT_COMMENTS"].columns["COMMENT_TYPE"]
    live.tables["INCIDENT_COMMENTS"] = dataclasses.replace(live.tables["INCIDENT_COMMENTS"], row_count=3)
    [step] = steps_for(project, desired, live, allow_destructive=True)
    assert summary([step]) == [("column", "incident_comments.comment_type", "missing_column", True, False)]
    assert step.statements == ()
    assert step.refused is not None and step.refused.startswith("a NOT NULL column without a default")
    assert not step.refused.endswith(AGAIN)  # --allow-destructive would not help


def with_stray_column(desired: DesiredState) -> LiveState:
    live = in_sync(desired)
    live.tables["USERS"].columns["NICKNAME"] = LiveColumn("NICKNAME", sqltypes.parse("VARCHAR(20)"), True, None, None)
    return live


def test_unexpected_column_is_refused_without_allow_destructive(project: Project, desired: DesiredState) -> None:
    [step] = steps_for(project, desired, with_stray_column(desired))
    assert summary([step]) == [("column", "users.NICKNAME", "unexpected_column", True, False)]
    assert step.statements == ()
    assert step.refused == "column is not declared; dropping it loses its data" + AGAIN


def test_unexpected_column_is_dropped_with_allow_destructive_then_the_checksum_recorded(
        project: Project, desired: DesiredState) -> None:
    steps = steps_for(project, desired, with_stray_column(desired), allow_destructive=True)
    assert summary(steps) == [("column", "users.NICKNAME", "drop", True, True),
                              ("table", "users", "record", False, True)]
    assert steps[0].statements == (f"ALTER TABLE {FQ}USERS DROP COLUMN IF EXISTS NICKNAME;",)
    assert (steps[0].checksum, steps[1].checksum, steps[1].statements) == (None, checksum_of(desired, "users"), ())


def with_comment_type(desired: DesiredState, live_type: str) -> LiveState:
    live = in_sync(desired)
    columns = live.tables["INCIDENT_COMMENTS"].columns
    columns["COMMENT_TYPE"] = dataclasses.replace(columns["COMMENT_TYPE"], type=sqltypes.parse(live_type))
    return live


def test_widening_is_done_in_place(project: Project, desired: DesiredState) -> None:
    [step] = steps_for(project, desired, with_comment_type(desired, "VARCHAR(10)"))
    assert summary([step]) == [("table", "incident_comments", "alter", False, True)]
    assert step.statements == (
        f"ALTER TABLE {FQ}INCIDENT_COMMENTS ALTER COLUMN COMMENT_TYPE SET DATA TYPE VARCHAR(20);",)


def test_narrowing_is_refused_without_allow_destructive(project: Project, desired: DesiredState) -> None:
    [step] = steps_for(project, desired, with_comment_type(desired, "VARCHAR(50)"))
    assert summary([step]) == [("column", "incident_comments.comment_type", "type_changed", True, False)]
    assert step.refused is not None and step.refused.endswith(AGAIN)


def test_narrowing_with_allow_destructive_rebuilds_the_column(project: Project, desired: DesiredState) -> None:
    [step] = steps_for(project, desired, with_comment_type(desired, "VARCHAR(50)"), allow_destructive=True)
    assert summary([step]) == [("table", "incident_comments", "alter", True, True)]
    table = f"ALTER TABLE {FQ}INCIDENT_COMMENTS"
    assert step.statements == (
        f"{table} DROP COLUMN IF EXISTS COMMENT_TYPE__INCIDENTS_REBUILD;",
        f"{table} ADD COLUMN COMMENT_TYPE__INCIDENTS_REBUILD VARCHAR(20);",
        f"UPDATE {FQ}INCIDENT_COMMENTS SET COMMENT_TYPE__INCIDENTS_REBUILD = COMMENT_TYPE::VARCHAR(20);",
        f"{table} DROP COLUMN IF EXISTS COMMENT_TYPE;",
        f"{table} RENAME COLUMN COMMENT_TYPE__INCIDENTS_REBUILD TO COMMENT_TYPE;",
        f"{table} ALTER COLUMN COMMENT_TYPE SET NOT NULL;",
        f"{table} ALTER COLUMN COMMENT_TYPE COMMENT 'Kind of entry: internal_note, customer_update, status_update "
        "or system.';")
    assert step.checksum == checksum_of(desired, "incident_comments")


def test_one_refused_change_keeps_the_table_checksum_unrecorded(project: Project, desired: DesiredState) -> None:
    live = with_comment_type(desired, "VARCHAR(50)")
    del live.tables["INCIDENT_COMMENTS"].columns["EDITED_AT"]
    steps = steps_for(project, desired, live)
    assert summary(steps)[0] == ("column", "incident_comments.comment_type", "type_changed", True, False)
    assert (steps[1].object, steps[1].action, steps[1].runs) == ("incident_comments", "alter", True)
    assert steps[1].statements == (f"ALTER TABLE {FQ}INCIDENT_COMMENTS ADD COLUMN EDITED_AT TIMESTAMP_NTZ(9) "
                                   "COMMENT 'When it was last edited (UTC); NULL if never.';",)
    assert steps[1].checksum is None  # recorded only once every change to the table ran


def test_renamed_column_is_renamed_in_place(project: Project, desired: DesiredState) -> None:
    table = next(t for t, _ in tables(desired) if t.name == "incident_comments")
    columns = tuple(dataclasses.replace(c, name="modified_at", renamed_from="edited_at") if c.name == "edited_at"
                    else c for c in table.columns)
    renamed = with_tables(desired, tuple(
        (dataclasses.replace(t, columns=columns) if t is table else t, r) for t, r in tables(desired)))
    [step] = steps_for(project, renamed, in_sync(desired))
    assert summary([step]) == [("table", "incident_comments", "alter", False, True)]
    assert step.statements == (f"ALTER TABLE {FQ}INCIDENT_COMMENTS RENAME COLUMN EDITED_AT TO MODIFIED_AT;",)


def test_changed_view_is_replaced_and_a_missing_one_created(project: Project, desired: DesiredState) -> None:
    live = in_sync(desired)
    live.history[("view", "V_INCIDENT_HEATMAP")] = HistoryEntry("older checksum", None)
    del live.views["V_CATEGORY_TREE"]
    steps = steps_for(project, desired, live)
    assert summary(steps) == [("view", "v_category_tree", "create", False, True),
                              ("view", "v_incident_heatmap", "replace", False, True)]  # declared (dependency) order
    declared = dict((v.name, r) for v, r in views(desired))
    assert [s.statements for s in steps] == [(declared["v_category_tree"].statements[0],),
                                             (declared["v_incident_heatmap"].statements[0],)]
    assert [[c.kind for c in s.changes] for s in steps] == [["missing_view"], ["changed_view"]]


def with_view_in_the_way(desired: DesiredState) -> LiveState:
    live = in_sync(desired)
    del live.tables["INCIDENT_ATTACHMENTS"]
    live.views["INCIDENT_ATTACHMENTS"] = "SELECT 1 AS X"
    return live


def test_stray_view_in_the_way_of_a_table_refuses_both_without_allow_destructive(
        project: Project, desired: DesiredState) -> None:
    steps = steps_for(project, desired, with_view_in_the_way(desired))
    assert summary(steps) == [("view", "INCIDENT_ATTACHMENTS", "drop", True, False),
                              ("table", "incident_attachments", "create", False, False)]
    assert [s.statements for s in steps] == [(), ()]
    assert steps[1].refused == ("a view named INCIDENT_ATTACHMENTS is in the way; rerun with --allow-destructive "
                                "to drop it")


def test_stray_view_in_the_way_of_a_table_is_dropped_right_before_the_create(
        project: Project, desired: DesiredState) -> None:
    steps = steps_for(project, desired, with_view_in_the_way(desired), allow_destructive=True)
    assert summary(steps) == [("view", "INCIDENT_ATTACHMENTS", "drop", True, True),
                              ("table", "incident_attachments", "create", False, True)]
    rendered = next(r for t, r in tables(desired) if t.name == "incident_attachments")
    assert [s.statements for s in steps] == [(f"DROP VIEW IF EXISTS {FQ}INCIDENT_ATTACHMENTS;",),
                                             (rendered.statements[0],)]


def test_stray_table_in_the_way_of_a_view_is_dropped_before_it(project: Project, desired: DesiredState) -> None:
    live = in_sync(desired)
    del live.views["V_INCIDENT_HEATMAP"]
    live.tables["V_INCIDENT_HEATMAP"] = LiveTable("V_INCIDENT_HEATMAP", {}, 0, None)
    steps = steps_for(project, desired, live, allow_destructive=True)
    assert summary(steps) == [("table", "V_INCIDENT_HEATMAP", "drop", True, True),
                              ("view", "v_incident_heatmap", "create", False, True)]
    assert steps[0].statements == (f"DROP TABLE IF EXISTS {FQ}V_INCIDENT_HEATMAP;",)


def test_a_stray_of_the_same_kind_is_not_in_the_way_and_is_dropped_last(project: Project,
                                                                       desired: DesiredState) -> None:
    live = in_sync(desired)
    live.tables["incident_attachments"] = live.tables.pop("INCIDENT_ATTACHMENTS")  # quoted lower case: another name
    steps = steps_for(project, desired, live, allow_destructive=True)
    assert summary(steps) == [("table", "incident_attachments", "create", False, True),
                              ("table", "incident_attachments", "drop", True, True)]
    assert steps[1].statements == (f'DROP TABLE IF EXISTS {FQ}"incident_attachments";',)


def test_destructive_tail_drops_columns_then_views_then_tables_and_records_last(
        project: Project, desired: DesiredState) -> None:
    live = with_stray_column(desired)
    live.tables["stray table"] = LiveTable("stray table", {}, 1, None)
    live.views["STRAY_V"] = "SELECT 1 AS X"
    del live.tables["INCIDENT_COMMENTS"].columns["EDITED_AT"]
    steps = steps_for(project, desired, live, allow_destructive=True)
    assert summary(steps) == [("table", "incident_comments", "alter", False, True),
                              ("column", "users.NICKNAME", "drop", True, True),
                              ("view", "STRAY_V", "drop", True, True),
                              ("table", "stray table", "drop", True, True),
                              ("table", "users", "record", False, True)]
    assert steps[3].statements == (f'DROP TABLE IF EXISTS {FQ}"stray table";',)


def test_reference_rows_are_merged_when_they_changed_or_were_never_merged(project: Project,
                                                                           desired: DesiredState) -> None:
    live = in_sync(desired)
    live.history[("reference_data", "SLA_POLICIES")] = HistoryEntry("older checksum", None)
    del live.history[("reference_data", "IMPACT_SCORE_WEIGHTS")]
    steps = steps_for(project, desired, live)
    assert summary(steps) == [("reference_data", "impact_score_weights", "merge", False, True),
                              ("reference_data", "sla_policies", "merge", False, True)]


def test_config_change_refreshes_the_table_comment_and_records_it(project: Project, desired: DesiredState) -> None:
    live = in_sync(desired)
    live.history[("table", "SLA_POLICIES")] = HistoryEntry("older checksum", None)
    [step] = steps_for(project, desired, live)
    assert summary([step]) == [("table", "sla_policies", "alter", False, True)]
    assert step.statements[0].startswith(f"COMMENT ON TABLE {FQ}SLA_POLICIES IS 'SLA targets per priority")
    assert step.checksum == checksum_of(desired, "sla_policies")


def test_step_kinds_and_actions_are_typed_and_read_as_the_bare_strings(project: Project,
                                                                        desired: DesiredState) -> None:
    [step] = steps_for(project, desired, with_comment_type(desired, "VARCHAR(10)"))
    assert (step.object_kind, step.action) == (TABLE, ALTER)
    assert f"{step.action} {step.object_kind}" == "alter table"
