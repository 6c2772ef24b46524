"""`incidents receive`: an HTTP receiver for Alertmanager webhooks, batching into `ingest`."""

from __future__ import annotations

from typing import Annotated

import typer

from incidents.cli import formatters as fmt
from incidents.cli.common import ConnectionOpt, EnvOpt, ProjectOpt, VerboseOpt, _errors, _workspace


def receive(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)] = 9095,
    env: EnvOpt = None,
    connection: ConnectionOpt = None,
    project_dir: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Receive alert webhooks (and change events on /changes) over HTTP, ingested in batches.

    Point Alertmanager's webhook_configs.url, a Grafana webhook contact point or a PagerDuty v3
    webhook subscription at http://HOST:PORT/ (POST / takes payloads, each known by its keys; GET
    /healthz answers). PagerDuty events other than triggered, reopened and resolved are answered
    200 "ignored" and stored nowhere. POST /changes takes change events (GitHub deployment_status webhooks, PagerDuty
    change events, NDJSON changes) into raw_changes and change_events. Posts are batched
    (receive: in config/ingest.yml) into the same load + pass as ingest; each is answered once
    stored: 200 with the counts of stored and malformed alerts, 400 when the body held no valid
    alert (kept with its error), 503 when storing failed (Alertmanager retries). A bearer token is
    required when the env var receive.token_env names is set; header and body timeouts and a
    connection limit apply before it. When the env var receive.pagerduty_secret_env names is set
    (the PagerDuty v3 subscription's signing secret), a post with X-PagerDuty-Signature is
    authorized by a valid signature (a wrong one is 401), and a PagerDuty webhook without it is 401
    unless it carries the bearer token. One log line per request on stderr.
    On the local target the database is opened per batch, so other commands run in between.
    Ctrl-C or SIGTERM flushes, stops and prints a summary.

    Examples:

      INCIDENTS_RECEIVE_TOKEN=s3cret incidents receive --port 9095

      INCIDENTS_PAGERDUTY_WEBHOOK_SECRET=<signing secret> incidents receive
    """
    import os

    from incidents.ingest.receiver import Server, Stats, Store, build_app
    from incidents.project.ingest import load_ingest_config

    with _errors(), _workspace(project_dir, env, connection, verbose) as ws:
        cfg = load_ingest_config(ws.project)
        ws.ingest_ready()
        where, local = ws.where, ws.session.backend == "local"
        ws.close()  # the receiver opens the target per batch (local) or holds a session of its own
        token = os.environ.get(cfg.receive.token_env) or None
        pagerduty_secret = os.environ.get(cfg.receive.pagerduty_secret_env) or None
        stats = Stats()
        store = Store(ws.dep, ws.connection, cfg, hold=not local)
        change_store = Store(ws.dep, ws.connection, cfg, hold=not local, changes=True)
        app = build_app(store, cfg.receive, token, stats, change_store=change_store,
                        severity_label=cfg.severity_label, pagerduty_secret=pagerduty_secret)
        try:
            server = Server(app, host, port, settings=cfg.receive,
                            grace_seconds=max(10.0, cfg.receive.batch_seconds * 3))
        except OSError as exc:
            fmt.error_line("error", f"cannot listen on {host}:{port}: {exc.strerror or exc}")
            raise typer.Exit(2) from None
        fmt.console(stderr=True).print(
            f"Receiving on http://{host}:{server.port}/ into {fmt.escape(where)}"
            f"{' (bearer token required)' if token else ''}"
            f"{' (PagerDuty signatures verified)' if pagerduty_secret else ''}; Ctrl-C flushes and stops.")
        try:
            server.run()
        finally:
            store.close()
            change_store.close()
        fmt.console(stderr=True).print(
            f"Stopped: {stats.requests:,} requests, {stats.alerts:,} alerts, {stats.changes:,} changes "
            f"({stats.malformed:,} malformed{f', {stats.ignored:,} ignored' if stats.ignored else ''}) in "
            f"{stats.loads:,} loads, {stats.refused:,} refused, {stats.failures:,} failed flushes.")
