"""Property-based fuzz of the alert parsers (issue 22, "Done means"): whatever bytes arrive, parsing
never raises, and every row it gives can be landed (valid UTF-8 JSON payloads, times within the
range pandas and Snowflake hold). Slow step only."""

from __future__ import annotations

import contextlib
import datetime as dt
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.ingest import frame
from incidents.ingest.parse import COLUMNS, AlertReader, read_documents, text_blocks
from incidents.ingest.times import EARLIEST, LATEST

pytestmark = pytest.mark.slow
NOW = dt.datetime(2026, 12, 3)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
times = st.one_of(
    st.text(max_size=40),
    st.builds(lambda y, mo, d, h, off: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:00:00{off}",
              st.integers(0, 9999), st.integers(1, 12), st.integers(1, 31), st.integers(0, 23),
              st.sampled_from(["Z", "+01:00", "-14:00", ".123456789Z", "", "z", "+99:99"])))
alerts = st.fixed_dictionaries(
    {"labels": st.one_of(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4), json_values),
     "startsAt": st.one_of(times, json_values)},
    optional={"status": st.sampled_from(["firing", "resolved", "pending", 5]), "endsAt": st.one_of(times, json_values),
              "annotations": json_values, "fingerprint": st.one_of(st.text(max_size=120), json_values),
              "extra": json_values})
documents = st.one_of(alerts, st.builds(lambda a: {"version": "4", "alerts": a}, st.lists(alerts, max_size=3)),
                      json_values)


def check(rows: list, reader: AlertReader) -> None:
    assert sum(1 for r in rows if r[12] is None) == reader.alerts
    for row in rows:
        assert row[12] is not None or row[4] is not None
        if row[10] is not None:
            orjson.loads(row[10].encode("utf-8"))  # valid JSON and UTF-8: what the loaders accept
        if row[11] is not None:
            orjson.loads(row[11].encode("utf-8"))
        for moment in (row[6], row[7]):
            assert moment is None or EARLIEST <= moment < LATEST
    if rows:
        for i, row in enumerate(rows):
            row[0], row[1] = "fuzz", i
        assert len(frame(rows)) == len(rows) and list(frame(rows).columns) == list(COLUMNS)


def parse_all(blocks: list[str]) -> None:
    reader = AlertReader("auto", NOW)
    rows = [row for doc in read_documents(iter(blocks), max_chars=10_000) for row in reader.rows(doc)]
    check(rows, reader)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(documents, min_size=1, max_size=5), st.integers(1, 50))
def test_any_json_documents_parse_into_rows_that_can_be_landed(docs: list, block: int) -> None:
    text = "\n".join(json.dumps(d) for d in docs) + "\n"
    parse_all([text[i:i + block] for i in range(0, len(text), block)])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    from incidents.ingest.parse import InputTooLarge

    with contextlib.suppress(InputTooLarge):  # a line over the limit is refused in words, not with a traceback
        parse_all(list(text_blocks(data, size=37)))
