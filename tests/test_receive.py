"""`incidents receive` on loopback: posts are stored before they are answered, batches flush on
size or time and on shutdown, unauthenticated and oversized posts are refused; a poison alert
takes no other post down and nothing of another poster's alert is echoed (issue 22 H2); header and
body timeouts and a connection cap hold against raw sockets (H7); answers say what was stored (H13);
PagerDuty v3 webhooks are taken by their X-PagerDuty-Signature when the signing secret is set;
SIGTERM prints the summary; on the local target other commands get in between batches (issue 24.5)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from incidents import Workspace
from incidents.ingest import store_batch
from incidents.ingest.receiver import Server, Stats, build_app
from incidents.project.ingest import ReceiveSettings

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"
HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
PAGERDUTY = Path(__file__).parent / "fixtures" / "pagerduty"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def hostile(name: str) -> bytes:
    return (HOSTILE / name).read_bytes()


@pytest.fixture
def ws(repo: Path, deployed_local: Path) -> Iterator[Workspace]:
    with Workspace.open(repo, env="dev") as workspace:
        yield workspace


@contextmanager
def receiver(ws: Workspace | None, *, seconds: float = 0.2, alerts: int = 1000, size: int = 1_048_576,
             token: str | None = None, store: Any = None, settings: ReceiveSettings | None = None,
             log: Any = None, pagerduty_secret: str | None = None) -> Iterator[tuple[Server, Stats]]:
    stats = Stats()
    settings = settings or ReceiveSettings(seconds, alerts, size)
    app = build_app(store or (lambda rows: store_batch(ws.session, ws.dep, rows)), settings, token, stats,  # type: ignore[union-attr]
                    log=log or (lambda line: None), pagerduty_secret=pagerduty_secret)
    server = Server(app, "127.0.0.1", 0, settings=settings, grace_seconds=30)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.started.wait(20)
    try:
        yield server, stats
    finally:
        server.stop()
        thread.join(60)
        assert not thread.is_alive()


def request(port: int, data: bytes | None = None, *, token: str | None = None, path: str = "/",
            signature: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-PagerDuty-Signature"] = signature
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


def pagerduty(name: str) -> bytes:
    return (PAGERDUTY / f"{name}.json").read_bytes()


def signed(data: bytes, *secrets: str) -> str:
    """X-PagerDuty-Signature as PagerDuty sends it: `v1=<hex HMAC-SHA256 of the body>` per secret."""
    return ",".join(f"v1={hmac.new(s.encode(), data, hashlib.sha256).hexdigest()}" for s in secrets)


def test_a_pagerduty_webhook_with_a_valid_signature_opens_its_incident_a_wrong_or_missing_one_is_401(
        ws: Workspace) -> None:
    lines: list[str] = []
    triggered = pagerduty("incident_triggered")
    tampered = triggered.replace(b"A little bump", b"A large crater")
    with receiver(ws, pagerduty_secret="pd-secret", log=lines.append) as (server, stats):
        assert request(server.port, tampered, signature=signed(triggered, "pd-secret")) == (
            401, {"error": "wrong X-PagerDuty-Signature"})
        assert request(server.port, tampered, signature="v1=" + "0" * 64)[0] == 401
        assert request(server.port, tampered) == (401, {"error": "missing X-PagerDuty-Signature"})
        assert request(server.port, triggered, signature=signed(triggered, "pd-secret")) == (200, stored(1))
        assert stats.refused == 3
    assert count(ws, "SELECT COUNT(*) AS N FROM RAW_ALERTS") == 1  # nothing of the refused posts
    assert [(r["TITLE"], r["STATUS"]) for r in ws.query("SELECT TITLE, STATUS FROM INCIDENTS")] == [
        ("A little bump in the road", "new")]
    assert len(lines) == 4 and not any("pd-secret" in line or "v1=" in line for line in lines)


def keeping(posts: list[list[str]]) -> Any:
    """A store that keeps the SOURCE_FORMAT of each batch's rows (for tests that need no database)."""
    def keep(rows: list) -> dict:
        posts.append([row[3] for row in rows])  # COLUMNS[3]: SOURCE_FORMAT
        return {}
    return keep


def test_a_rotated_secret_signature_is_taken_and_other_formats_keep_the_token_rule() -> None:
    posts: list[list[str]] = []
    resolved, ndjson = pagerduty("incident_resolved"), (FIXTURES / "events.ndjson").read_bytes()
    with receiver(None, pagerduty_secret="pd-secret", store=keeping(posts)) as (server, _stats):
        # While the secret is rotated PagerDuty signs with both; the old one's comes first here.
        assert request(server.port, resolved, signature=signed(resolved, "old-secret", "pd-secret")) == (
            200, stored(1))
        assert request(server.port, body("firing.json")) == (200, stored(1))  # no token asked, as before
        assert request(server.port, ndjson)[0] == 200
    assert [p[0] for p in posts] == ["pagerduty", "alertmanager", "ndjson"]


def test_with_a_token_too_a_signature_wins_and_an_unsigned_pagerduty_webhook_needs_the_token() -> None:
    posts: list[list[str]] = []
    triggered = pagerduty("incident_triggered")
    with receiver(None, token="s3cret", pagerduty_secret="pd-secret", store=keeping(posts)) as (server, _stats):
        assert request(server.port, triggered, token="s3cret", signature=signed(triggered, "other")) == (
            401, {"error": "wrong X-PagerDuty-Signature"})
        assert request(server.port, triggered, signature=signed(triggered, "pd-secret"))[0] == 200  # no token
        assert request(server.port, triggered)[0] == 401
        assert request(server.port, triggered, token="s3cret")[0] == 200
        assert request(server.port, body("firing.json"))[0] == 401  # not PagerDuty: the token rule, unchanged
    assert posts == [["pagerduty"], ["pagerduty"]]


def test_a_body_that_is_not_json_is_answered_400_and_kept_with_its_error(ws: Workspace) -> None:
    with receiver(ws) as (server, _stats):
        status, answer = request(server.port, b'{"version": "4", "alerts": [')
        assert status == 400 and "kept in raw_alerts" in answer["error"]
    [row] = ws.query("SELECT ERROR, PAYLOAD::VARCHAR AS P FROM RAW_ALERTS").rows
    assert row[0] is not None and "alerts" in row[1]


# --------------------------------------------------------------------------- poison (H2), answers (H13)


def test_a_poison_post_takes_no_other_post_down_and_nothing_of_it_is_echoed(ws: Workspace) -> None:
    poisons = ["H2_starts_year9999.json", "H2_starts_year1500.json", "H2_lone_surrogate.json"]
    posts = [hostile("innocent.json")] * 4 + [hostile(p) for p in poisons]
    answers: dict[int, tuple[int, dict]] = {}
    with receiver(ws, seconds=1.0) as (server, stats):  # one batch for all of them
        threads = [threading.Thread(target=lambda i=i, data=data: answers.__setitem__(i, request(server.port, data)))
                   for i, data in enumerate(posts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert stats.loads == 1
    assert [answers[i] for i in range(4)] == [(200, stored(1))] * 4
    for i in range(4, 7):
        status, answer = answers[i]
        assert status == 400 and "no valid alert in the body" in answer["error"], answer
    for _, answer in answers.values():  # no poster sees another poster's alert
        assert "innocent" not in json.dumps(answer) and "9999" not in json.dumps(answers[0][1])
    assert count(ws, "SELECT COUNT(*) AS N FROM RAW_ALERTS") == 7
    assert count(ws, "SELECT COUNT(*) AS N FROM RAW_ALERTS WHERE ERROR IS NOT NULL") == 3
    assert count(ws, "SELECT COUNT(*) AS N FROM INCIDENTS") == 1


def test_a_failing_store_is_503_for_its_batch_and_names_no_alert(ws: Workspace) -> None:
    from incidents.errors import TargetError

    def broken(rows: list) -> None:
        raise TargetError("the warehouse is suspended: poison-label-value")

    with receiver(ws, store=broken) as (server, stats):
        status, answer = request(server.port, body("firing.json"))
    assert status == 503 and "poison" not in answer["error"] and stats.failures == 1


def test_a_store_failing_for_one_post_is_retried_post_by_post(ws: Workspace) -> None:
    stored_rows: list[int] = []

    def picky(rows: list) -> dict:
        if any(r[10] and "poison" in r[10] for r in rows):  # PAYLOAD: an alert the database chokes on
            raise ValueError("cannot convert")
        stored_rows.append(len(rows))
        return {}

    posts = [hostile("innocent.json"), hostile("innocent.json").replace(b"innocent", b"poison")]
    answers: list[int] = []
    with receiver(ws, seconds=1.0, store=picky) as (server, _stats):
        threads = [threading.Thread(target=lambda data=data: answers.append(request(server.port, data)[0]))
                   for data in posts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert sorted(answers) == [200, 503] and stored_rows == [1]


@pytest.mark.parametrize(("name", "status", "expected"), [
    pytest.param("H13_empty_object.json", 400, "labels must be a non-empty object of strings", marks=pytest.mark.slow),
    pytest.param("H13_labels_not_strings.json", 400, "labels must be a non-empty object of strings",
                 marks=pytest.mark.slow),
    ("H10_nested_100k.json", 400, "invalid JSON: nested too deeply"),
    ("H13_valid_plus_broken.ndjson", 200, "invalid JSON"),
])
def test_the_answer_says_what_was_stored(ws: Workspace, name: str, status: int, expected: str) -> None:
    with receiver(ws) as (server, _stats):
        got, answer = request(server.port, hostile(name))
    assert got == status, answer
    assert expected in json.dumps(answer)
    if status == 200:
        assert (answer["alerts"], answer["malformed"]) == (1, 1)
        assert count(ws, "SELECT COUNT(*) AS N FROM INCIDENTS") == 1  # the valid line is kept and ingested
    assert count(ws, "SELECT COUNT(*) AS N FROM RAW_ALERTS WHERE ERROR IS NOT NULL") == 1


@pytest.mark.slow  # one of the default suite's heaviest; the slow step runs it
def test_one_log_line_per_request(ws: Workspace) -> None:
    lines: list[str] = []
    with receiver(ws, token="s3cret", log=lines.append) as (server, _stats):
        request(server.port, body("firing.json"), token="s3cret")
        request(server.port, body("firing.json"))
        request(server.port, path="/healthz")
    assert len(lines) == 3
    assert " POST / 200 alerts=1 malformed=0 " in lines[0] and " POST / 401 " in lines[1]
    assert " GET /healthz 200 " in lines[2] and all("s3cret" not in line for line in lines)


# --------------------------------------------------------------------------- raw sockets (H7)


def _half_sent(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def test_half_sent_headers_are_dropped_and_connections_are_capped(ws: Workspace) -> None:
    settings = ReceiveSettings(header_timeout_seconds=1.0, body_timeout_seconds=1.0, max_connections=5)
    with receiver(ws, settings=settings, store=lambda rows: {}) as (server, _stats):
        held = [_half_sent(server.port) for _ in range(5)]
        time.sleep(0.2)
        extra = [_half_sent(server.port) for _ in range(3)]
        assert all(_closed_within(s, 1.0) for s in extra)  # over the cap: closed at once
        began = time.monotonic()
        assert all(_closed_within(s, 5.0) for s in held)  # headers not in within 1 s: closed
        assert time.monotonic() - began < 4.0
        assert request(server.port, path="/healthz")[0] == 200  # and the server still answers
        for s in held + extra:
            s.close()


def test_a_body_sent_a_byte_at_a_time_gets_408(ws: Workspace) -> None:
    settings = ReceiveSettings(header_timeout_seconds=1.0, body_timeout_seconds=1.0, max_connections=5)
    with receiver(ws, settings=settings, store=lambda rows: {}) as (server, stats):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        began = time.monotonic()
        answer = b""
        sock.settimeout(0.3)
        while time.monotonic() - began < 5 and b"\r\n\r\n" not in answer:
            try:
                sock.sendall(b" ")
                answer += sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - began < 3.0
        assert _closed_within(sock, 3.0)
        sock.close()
    assert stats.refused == 1


# --------------------------------------------------------------------------- the CLI process


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_flushes_prints_the_summary_and_exits_0(repo: Path, ws: Workspace, sig: str) -> None:
    import os
    import signal
    import subprocess
    import sys

    ws.close()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "incidents", "receive", "--port", str(port), "--project-dir",
                             str(repo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        _wait_for(port)
        assert request(port, body("firing.json"))[0] == 200
        proc.send_signal(getattr(signal, sig))
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Stopped: 1 requests, 1 alerts, 0 changes (0 malformed) in 1 loads" in err.decode()
    assert " POST / 200 alerts=1 malformed=0 " in err.decode()


@pytest.mark.slow
def test_other_commands_get_the_local_database_between_batches(repo: Path, ws: Workspace) -> None:
    import os
    import subprocess
    import sys

    ws.close()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "incidents", "receive", "--port", str(port), "--project-dir",
                             str(repo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        _wait_for(port)
        assert request(port, body("grouped.json"))[0] == 200
        query = subprocess.run([sys.executable, "-m", "incidents", "query", "SELECT COUNT(*) AS N FROM INCIDENTS",
                                "--format", "json", "--project-dir", str(repo)], capture_output=True, text=True,
                               timeout=120)
        assert query.returncode == 0, query.stderr
        assert json.loads(query.stdout) == [{"N": 3}]
        assert request(port, body("firing.json"))[0] == 200  # and the receiver gets it back for the next batch
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int) -> None:
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the receiver did not start")
