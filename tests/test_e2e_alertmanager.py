"""The production path end to end, as a team runs it (issue 24.1): a fresh project, `deploy` with no sample
data, a real Alertmanager posting to `incidents receive`, an incident opened and then resolved by it,
`report`, and `check` clean. Every step is the CLI a user types, in its own process.

Needs Debian's `prometheus-alertmanager` (`.ci/run` installs it); without it the test is skipped outside CI
and fails in CI (the CI environment variable set), so it can never pass by not running."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
INCIDENTS = str(Path(sys.executable).parent / "incidents")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INCIDENTS, *args, "--project-dir", str(root)], capture_output=True, text=True,
                          timeout=timeout)


def _wait_for(what: str, ready: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@contextmanager
def _running(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def _alertmanager_config(path: Path, receiver_port: int) -> Path:
    # group_wait/group_interval of 1 s: the notifications come in seconds, not minutes; send_resolved (the
    # webhook default) sends the resolution. https://prometheus.io/docs/alerting/latest/configuration/
    path.write_text(
        "route:\n  receiver: incidents\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n"
        "  repeat_interval: 1h\nreceivers:\n  - name: incidents\n    webhook_configs:\n"
        f"      - url: http://127.0.0.1:{receiver_port}/\n        send_resolved: true\n", encoding="utf-8")
    return path


def _post_alert(am_port: int, *, ends: dt.datetime | None) -> None:
    """What Prometheus sends Alertmanager (API v2, POST /api/v2/alerts): the alert firing, or with endsAt."""
    now = dt.datetime.now(dt.timezone.utc)
    alert = {"labels": {"alertname": "CheckoutDown", "job": "checkout", "severity": "critical"},
             "annotations": {"summary": "Checkout is down"},
             "startsAt": (now - dt.timedelta(minutes=2)).isoformat(), "generatorURL": "http://prometheus/graph"}
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    request = urllib.request.Request(f"http://127.0.0.1:{am_port}/api/v2/alerts", data=json.dumps([alert]).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200


def _incidents(root: Path) -> list[dict[str, str]]:
    shown = _cli(root, "query", "SELECT incident_number, status, priority FROM incidents", "--format", "json")
    assert shown.returncode == 0, shown.stderr  # the receiver lets other commands in between its batches
    return list(json.loads(shown.stdout))


def test_deploy_then_alertmanager_then_report_and_check(tmp_path: Path, local_dir: Path) -> None:
    if ALERTMANAGER is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus-alertmanager is not installed; .ci/run installs it")
        pytest.skip("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
    root = tmp_path / "warehouse"
    made = subprocess.run([INCIDENTS, "init", str(root)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    deployed = _cli(root, "deploy")
    assert deployed.returncode == 0, deployed.stderr

    receiver_port, am_port = _free_port(), _free_port()
    receive = [INCIDENTS, "receive", "--port", str(receiver_port), "--project-dir", str(root)]
    alertmanager = [ALERTMANAGER, f"--config.file={_alertmanager_config(tmp_path / 'am.yml', receiver_port)}",
                    f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address="]
    with _running(receive, tmp_path / "receive.log") as receiver, \
            _running(alertmanager, tmp_path / "alertmanager.log"):
        _wait_for("the receiver", lambda: _answers(f"http://127.0.0.1:{receiver_port}/healthz"))
        _wait_for("Alertmanager", lambda: _answers(f"http://127.0.0.1:{am_port}/-/ready"))

        _post_alert(am_port, ends=None)
        _wait_for("the incident Alertmanager's notification opens", lambda: len(_incidents(root)) == 1)
        [opened] = _incidents(root)
        assert opened["PRIORITY"] == "critical" and opened["STATUS"] not in ("resolved", "closed")

        _post_alert(am_port, ends=dt.datetime.now(dt.timezone.utc))
        _wait_for("the resolution", lambda: [i["STATUS"] for i in _incidents(root)] == ["resolved"])

        receiver.terminate()  # SIGTERM: flush, stop, summary
        assert receiver.wait(timeout=30) == 0, (tmp_path / "receive.log").read_text(encoding="utf-8")
    log = (tmp_path / "receive.log").read_text(encoding="utf-8")
    assert "POST / 200" in log or " 200 " in log, log  # one line per request

    report = _cli(root, "report", "-q")
    assert report.returncode == 0, report.stderr
    written = Path(report.stdout.strip())
    assert written.is_file() and written.parent == root / "reports"
    text = _cli(root, "report", "--format", "text")
    assert text.returncode == 0, text.stderr
    headline = " ".join(text.stdout.split())
    assert "Incidents in period 1 " in headline and "Open incidents 0" in headline, text.stdout[:2000]
    checked = _cli(root, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
