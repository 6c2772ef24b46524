"""The parts of `incidents import` that need no database: dates, people's keys and addresses, JSON
written by Arrow kernels, the Jira changelog walk."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from incidents.errors import ConfigError
from incidents.importers import dates
from incidents.importers.landing import json_objects, person_email, person_key, when_changed


@pytest.mark.parametrize(("values", "order"), [
    (["29/2/2016 01:16", "1/3/2016 09:05"], "day-first"),
    (["2/29/2016 01:16", "3/1/2016 09:05"], "month-first"),
    (["2016-02-29 01:16:00", "2016-03-01T09:05:00.5"], "iso"),
    (["1/3/2016 01:16", "2/3/2016 09:05"], None),  # every day fits both orders: undecided
])
def test_the_date_order_is_proven_by_the_data(values: list[str], order: str | None) -> None:
    assert dates.decide(dates.evidence(values), values[0]) == order


def test_dates_in_two_orders_are_refused() -> None:
    with pytest.raises(ConfigError, match="more than one order"):
        dates.decide(dates.evidence(["29/2/2016 01:16", "2/29/2016 01:16"]), None)


def test_dates_parse_in_the_given_order_and_impossible_ones_are_flagged() -> None:
    texts = pa.array(["29/2/2016 01:16", "1/3/2016 9:05:07", None, "31/31/2016 00:00", "30/2/2016 10:00",
                      "5/3/2016 12:00 PM", "5/3/16"])
    stamps, bad = dates.parse_arrow(texts, "day-first")
    assert stamps.to_pylist()[:2] == [dt.datetime(2016, 2, 29, 1, 16), dt.datetime(2016, 3, 1, 9, 5, 7)]
    assert stamps.to_pylist()[5:] == [dt.datetime(2016, 3, 5, 12, 0), dt.datetime(2016, 3, 5)]
    assert bad.to_pylist() == [False, False, False, True, True, False, False]  # missing is not bad


def test_dates_convert_from_the_export_time_zone_to_utc() -> None:
    stamps, _ = dates.parse_arrow(pa.array(["2016-07-01 12:00:00", "2016-03-27 02:30:00", "2016-10-30 02:30:00"]),
                                  "iso", "Europe/Berlin")
    assert stamps.to_pylist() == [dt.datetime(2016, 7, 1, 10, 0),   # summer time, UTC+2
                                  dt.datetime(2016, 3, 27, 1, 0),   # does not exist: moved forward to 03:00
                                  dt.datetime(2016, 10, 30, 1, 30)]  # exists twice: the later, standard time


def test_a_strptime_pattern_checks_the_calendar() -> None:
    stamps, bad = dates.parse_arrow(pa.array(["29.02.2016 01:16:00", "30.02.2016 01:16:00"]), "%d.%m.%Y %H:%M:%S")
    assert stamps.to_pylist()[0] == dt.datetime(2016, 2, 29, 1, 16) and bad.to_pylist() == [False, True]


def test_people_are_keyed_without_pii() -> None:
    assert person_key("servicenow", "6816f79cc0a8016401c5a33be04be441") == \
        "servicenow:6816f79cc0a8016401c5a33be04be441"  # a sys_id is kept
    hashed = person_key("servicenow", " Beth Anglin ")
    assert hashed.startswith("servicenow:") and "Beth" not in hashed and hashed == person_key("servicenow",
                                                                                              "Beth Anglin")
    assert person_key("jira", "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", account_id=True) == \
        "jira:557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"
    assert person_email("jira:557058:f58131cb-b67d-43c7-b30d-6b58d40bd077") == \
        "557058.f58131cb-b67d-43c7-b30d-6b58d40bd077@jira.import.invalid"
    assert person_email(hashed).endswith("@servicenow.import.invalid")


def test_json_objects_escape_what_json_needs() -> None:
    values = pa.array(['plain', 'a "quoted" \\ back\nslash\ttab\x01', None])
    rows = json_objects({"text": values, "n\"ame": pa.array(["1", "2", "3"])}, 3).to_pylist()
    assert [json.loads(r) for r in rows] == [
        {"text": "plain", "n\"ame": "1"}, {"text": 'a "quoted" \\ back\nslash\ttab ', "n\"ame": "2"},
        {"text": None, "n\"ame": "3"}]


def test_fields_are_stored_where_they_change_within_an_incident() -> None:
    kept = when_changed(pa.array(["a", "a", "b", "b", "b"]), pa.array(["INC1", "INC1", "INC1", "INC2", "INC2"]))
    assert kept.to_pylist() == ["a", None, "b", "b", None]
