"""`incidents receive` on loopback: posts are stored before they are answered, batches flush on
size or time and on shutdown, unauthenticated and oversized posts are refused."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from incidents import Workspace
from incidents.ingest import store_batch
from incidents.ingest.config import ReceiveSettings
from incidents.ingest.receiver import Server, Stats, build_app

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"
CATEGORIES = ("INSERT INTO INCIDENT_CATEGORIES (CATEGORY_ID, CODE, NAME) VALUES "
              "(1, 'SYSTEM_OUTAGE', 'System Outage'), (2, 'PAYMENT', 'Payment Processing'), "
              "(3, 'PERFORMANCE', 'Performance Issues')")


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def ws(repo: Path, deployed_local: Path) -> Iterator[Workspace]:
    with Workspace.open(repo, env="dev") as workspace:
        workspace.query(CATEGORIES)
        yield workspace


@contextmanager
def receiver(ws: Workspace, *, seconds: float = 0.2, alerts: int = 1000, size: int = 1_048_576,
             token: str | None = None) -> Iterator[tuple[Server, Stats]]:
    stats = Stats()
    app = build_app(lambda rows: store_batch(ws.session, ws.project, ws.env, rows), ReceiveSettings(seconds, alerts, size), token, stats)
    server = Server(app, "127.0.0.1", 0, grace_seconds=30)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.started.wait(20)
    try:
        yield server, stats
    finally:
        server.stop()
        thread.join(60)
        assert not thread.is_alive()


def request(port: int, data: bytes | None = None, *, token: str | None = None, path: str = "/") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers,
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def stored(alerts: int, malformed: int = 0, errors: list[str] | None = None) -> dict:
    return {"status": "stored", "alerts": alerts, "malformed": malformed, "errors": errors or []}


def count(ws: Workspace, sql: str) -> int:
    return int(ws.query(sql)[0]["N"])


def test_a_post_is_answered_once_stored_and_healthz_answers(ws: Workspace) -> None:
    with receiver(ws) as (server, stats):
        assert request(server.port, body("firing.json")) == (200, stored(1))
        assert request(server.port, body("grouped.json")) == (200, stored(3))
        status, health = request(server.port, path="/healthz")
        assert status == 200 and health["status"] == "ok" and health["loads"] == 2
    assert stats.loads == 2
    assert count(ws, "SELECT COUNT(*) AS N FROM INCIDENTS WHERE SOURCE = 'monitoring'") == 4


def test_posts_are_batched_into_one_load_when_the_batch_is_full(ws: Workspace) -> None:
    with receiver(ws, seconds=60, alerts=4) as (server, stats):
        answers: list[tuple[int, dict]] = []
        threads = [threading.Thread(target=lambda name=name: answers.append(request(server.port, body(name))))
                   for name in ("firing.json", "grouped.json")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)  # long before the 60 s timer: the 4th alert filled the batch
        assert sorted(a[0] for a in answers) == [200, 200]
        assert stats.loads == 1
    assert count(ws, "SELECT COUNT(DISTINCT LOAD_ID) AS N FROM RAW_ALERTS") == 1
    assert count(ws, "SELECT COUNT(*) AS N FROM INCIDENTS") == 4


def test_shutdown_flushes_the_batch_and_loses_no_post(ws: Workspace) -> None:
    lines = [*(FIXTURES / "out_of_order.ndjson").read_bytes().splitlines(), body("firing.json"), body("grouped.json")]
    answers: list[int] = []
    with receiver(ws, seconds=600) as (server, stats):
        threads = [threading.Thread(target=lambda data=data: answers.append(request(server.port, data)[0]))
                   for data in lines]
        for t in threads:
            t.start()
        for _ in range(200):  # every post is waiting in the batch
            if request(server.port, path="/healthz")[1]["pending_alerts"] == 6:
                break
            threading.Event().wait(0.05)
        assert stats.loads == 0
    for t in threads:
        t.join(30)
    assert answers == [200] * 4
    assert stats.loads == 1
    assert count(ws, "SELECT COUNT(*) AS N FROM RAW_ALERTS") == 6
    assert count(ws, "SELECT COUNT(*) AS N FROM INCIDENTS") == 5
    assert count(ws, "SELECT COUNT(*) AS N FROM INCIDENTS WHERE STATUS = 'resolved'") == 1


def test_unauthenticated_and_oversized_posts_are_refused_and_not_stored(ws: Workspace) -> None:
    with receiver(ws, size=4096, token="s3cret") as (server, stats):
        assert request(server.port, body("firing.json"))[0] == 401
        assert request(server.port, body("firing.json"), token="wrong")[0] == 401
        big = json.dumps({"version": "4", "alerts": [], "pad": "x" * 5000}).encode()
        status, answer = request(server.port, big, token="s3cret")
        assert status == 413 and "larger than 4096 bytes" in answer["error"]
        assert request(server.port, body("firing.json"), token="s3cret") == (200, stored(1))
        assert stats.refused == 3
    assert count(ws, "SELECT COUNT(*) AS N FROM RAW_ALERTS") == 1


def test_a_body_that_is_not_json_is_answered_400_and_kept_with_its_error(ws: Workspace) -> None:
    with receiver(ws) as (server, _stats):
        status, answer = request(server.port, b'{"version": "4", "alerts": [')
        assert status == 400 and "kept in raw_alerts" in answer["error"]
    [row] = ws.query("SELECT ERROR, PAYLOAD::VARCHAR AS P FROM RAW_ALERTS").rows
    assert row[0] is not None and "alerts" in row[1]
