"""`incidents receive`: an HTTP endpoint Alertmanager's webhook_configs can post to.

POST / takes a webhook payload (Alertmanager, Grafana Alerting, PagerDuty v3; or NDJSON alert
events: each document known by its keys, as `incidents ingest -i auto`), GET /healthz says it is
alive. Each post
is parsed on arrival (a malformed alert becomes an error row of its own: it never takes the
others down), then posts are batched: a batch is landed and run through the same pass as
`incidents ingest` (one load per batch) when it holds `batch_alerts` alerts, 64 MiB, or is
`batch_seconds` old. A POST is answered only once its batch is stored:

- 200 {"status": "stored", "alerts": N, "malformed": M, "errors": [...]}: the body held at least one
  valid alert; the malformed ones (M) are stored too, as error rows, and `errors` says why (of this
  post only);
- 200 {"status": "ignored", "ignored": N}: the body held only events that open and resolve nothing
  (PagerDuty acknowledged, annotated, the subscription's ping...); nothing is stored;
- 400: the body held no valid alert at all (not JSON, `{}`, labels that are not strings...); it is
  stored as error rows, and Alertmanager does not retry a 4xx, so garbage is not sent forever;
- 503: storing failed (the database); Alertmanager retries, and nothing of the batch is kept but
  what was landed (the next pass takes it up). The answer names no alert: the batch holds other
  posters' alerts.

Before anything is read: at most `max_connections` connections (more are closed at once), the
request line and headers within `header_timeout_seconds`, the body within `body_timeout_seconds`
(408) and up to `max_request_bytes` (413), and the bearer token (401). With PagerDuty's signing secret
set, a post carrying `X-PagerDuty-Signature` is authorized by that signature instead (checked once its
body is read; a wrong one is 401 whatever the token), and a PagerDuty v3 webhook without it is 401
unless a bearer token was required and given. One log line per request; never the token, secret or
signature.
Shutdown (Ctrl-C, SIGTERM) stops accepting, flushes what waits and returns, so the CLI prints its
summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from incidents.errors import TargetError, printable
from incidents.ingest.parse import AlertReader, Row, read_documents, text_blocks
from incidents.project.deployment import Deployment
from incidents.project.ingest import IngestConfig, ReceiveSettings

StoreFn = Callable[[list[Row]], Any]  # the rows of one batch -> what the pass did
LogFn = Callable[[str], None]
MAX_BATCH_CHARS = 64 * 1024 * 1024  # a batch is flushed once its posts hold this much text


@dataclass
class Stats:
    requests: int = 0
    alerts: int = 0
    malformed: int = 0
    loads: int = 0
    refused: int = 0
    failures: int = 0
    last: Any = None  # what the last flush did
    changes: int = 0  # valid change events posted to /changes
    ignored: int = 0  # vendor events that open and resolve nothing (PagerDuty acknowledged...)

    def count(self, post: Post, noun: str) -> None:
        self.requests += 1
        self.malformed += post.malformed
        self.ignored += post.ignored
        if noun == "change":
            self.changes += post.alerts
        else:
            self.alerts += post.alerts


@dataclass
class Post:
    rows: list[Row]
    alerts: int  # valid alerts (valid change events for /changes)
    malformed: int
    errors: list[str]
    chars: int
    future: asyncio.Future[Any] | None = None  # set by the batcher: the outcome of the post's batch
    ignored: int = 0  # vendor events that open and resolve nothing: no row, not an error
    pagerduty: int = 0  # documents taken for PagerDuty v3 webhooks


def parse_post(body: bytes, severity_label: str = "severity") -> Post:
    """A posted body as raw_alerts rows; never raises on what the body holds. `severity_label` is
    config/ingest.yml's (vendor mappings put the severity they derive there)."""
    from incidents.ingest import now_utc

    reader = AlertReader("auto", now_utc(), severity_label=severity_label)
    rows = [row for doc in read_documents(text_blocks(body)) for row in reader.rows(doc)]
    if not rows and not reader.ignored:
        rows = [reader.stopped_row("the body is empty")]
    return Post(rows, reader.alerts, reader.malformed, reader.errors, len(body), ignored=reader.ignored,
                pagerduty=reader.pagerduty)


def parse_change_post(body: bytes) -> Post:
    """A body posted to /changes as raw_changes rows (each document's format known by its keys: a
    GitHub deployment_status webhook, a PagerDuty change event or an NDJSON change); never raises."""
    from incidents.ingest import now_utc
    from incidents.ingest.changes import ChangeReader

    reader = ChangeReader("auto", now_utc())
    rows = [row for doc in read_documents(text_blocks(body)) for row in reader.rows(doc)]
    if not rows:
        rows = [reader.stopped_row("the body is empty")]
    return Post(rows, reader.changes, reader.malformed, reader.errors, len(body))


class Batcher:
    """Collects parsed posts and stores them in one call, on a single worker thread (the database
    connection is used by one thread at a time)."""

    def __init__(self, store: StoreFn, settings: ReceiveSettings, stats: Stats) -> None:
        self._store, self.settings, self.stats = store, settings, stats
        self._posts: list[Post] = []
        self._count = self._chars = 0
        self._timer: asyncio.TimerHandle | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="incidents-ingest")
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Future[None]] = set()  # flushes in flight (a reference keeps them alive)
        self.closing = False  # shutting down: every post is flushed at once, nothing waits for the timer

    @property
    def pending(self) -> int:
        return self._count

    async def submit(self, post: Post) -> Any:
        if not post.rows:  # only events that open and resolve nothing: nothing to store
            return None
        loop = asyncio.get_running_loop()
        post.future = loop.create_future()
        if not self._posts:
            self._timer = loop.call_later(self.settings.batch_seconds, self._start_flush)
        self._posts.append(post)
        self._count += len(post.rows)
        self._chars += post.chars
        if self.closing or self._count >= self.settings.batch_alerts or self._chars >= MAX_BATCH_CHARS:
            self._start_flush()
        return await asyncio.shield(post.future)

    def _start_flush(self) -> None:
        task = asyncio.ensure_future(self.flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_batches(self) -> None:
        """Shutdown has begun: flush what waits now and every later post at once."""
        self.closing = True
        await self.flush()

    async def flush(self) -> None:
        if not self._posts:
            return
        posts, self._posts, self._count, self._chars = self._posts, [], 0, 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._lock:
            await self._store_posts(posts)

    async def _store_posts(self, posts: list[Post]) -> None:
        """All posts in one load; should that fail for anything but the database, each post alone,
        so nothing one poster sent can keep another's alerts out."""
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._executor, self._store, [r for p in posts for r in p.rows])
        except Exception as exc:
            if isinstance(exc, TargetError) or len(posts) == 1:
                self._failed(posts, exc)
                return
            for post in posts:
                await self._store_posts([post])
            return
        self.stats.loads += 1
        self.stats.last = result
        for post in posts:
            post.future.set_result(result)  # type: ignore[union-attr]

    def _failed(self, posts: list[Post], exc: Exception) -> None:
        self.stats.failures += 1
        _log_line(f"error: storing a batch of {len(posts)} post(s) failed: {printable(str(exc).splitlines()[0][:500])}")
        for post in posts:
            assert post.future is not None
            post.future.set_exception(exc)
            post.future.exception()  # retrieved: no "never retrieved" warning when nobody waits

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def build_app(store: StoreFn, settings: ReceiveSettings, token: str | None, stats: Stats | None = None,
              log: LogFn | None = None, change_store: StoreFn | None = None,
              severity_label: str = "severity", pagerduty_secret: str | None = None) -> Any:
    """The receiver's app. `token`: the bearer token posts need (None: none); `pagerduty_secret`: the
    PagerDuty v3 subscription's signing secret (None: X-PagerDuty-Signature is not looked at)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    stats = stats or Stats()
    gate = Gate(token, pagerduty_secret)
    # path -> its batcher, parser and what it takes (POST /changes only with a change store)
    paths: dict[str, tuple[Batcher, Callable[[bytes], Post], str]] = {
        "/": (Batcher(store, settings, stats), functools.partial(parse_post, severity_label=severity_label), "alert")}
    if change_store is not None:
        paths["/changes"] = (Batcher(change_store, settings, stats), parse_change_post, "change")
    batcher = paths["/"][0]
    write_log = log or _log_line

    def answer(request: Request, began: float, status: int, body: dict[str, Any], *, close: bool = False,
               post: Post | None = None) -> JSONResponse:
        if status in (401, 408, 413):
            stats.refused += 1
        client = f"{request.client.host}:{request.client.port}" if request.client else "-"
        counts = f" alerts={post.alerts} malformed={post.malformed}" if post else ""
        write_log(f"{_now()} {client} {request.method} {printable(request.url.path)[:200]} {status}{counts} "
                  f"{(time.perf_counter() - began) * 1000:.0f}ms")
        return JSONResponse(body, status_code=status, headers={"Connection": "close"} if close else None)

    async def receive(request: Request) -> JSONResponse:
        into, parse, noun = paths[request.url.path]
        began = time.perf_counter()
        refused = gate.before_body(request.headers)
        if refused:
            return answer(request, began, 401, {"error": refused})
        body = await _body_or_refusal(request, settings)
        if isinstance(body, tuple):
            return answer(request, began, *body, close=True)
        post = await gate.parsed(request.headers, body, parse)
        if isinstance(post, str):
            return answer(request, began, 401, {"error": post})
        stats.count(post, noun)
        try:
            await into.submit(post)
        except Exception:
            return answer(request, began, 503, {"error": f"could not store the {noun}s; the receiver's log says why. "
                                                         "Send them again"}, post=post)
        return answer(request, began, *_stored_answer(post, noun), post=post)

    async def healthz(request: Request) -> JSONResponse:
        return answer(request, time.perf_counter(), 200, {"status": "ok", "pending_alerts": batcher.pending,
                                                          "loads": stats.loads, "requests": stats.requests})

    async def lifespan(app: Any):
        yield
        for each, _, _ in paths.values():
            await each.flush()  # graceful shutdown: nothing accepted stays unflushed
            each.close()

    routes = [*(Route(path, receive, methods=["POST"]) for path in paths), Route("/healthz", healthz, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=contextlib.asynccontextmanager(lifespan))
    app.state.stats = stats
    app.state.batcher = batcher
    app.state.batchers = [each for each, _, _ in paths.values()]
    return app


@dataclass(frozen=True)
class Gate:
    """Who may post: the bearer token and PagerDuty's signing secret (None: not asked for). A post with
    X-PagerDuty-Signature is taken on its signature alone, once its body is read; any other post needs the
    token, checked before its body is read; a PagerDuty webhook needs one or the other."""

    token: str | None
    pagerduty_secret: str | None

    def signature(self, headers: Any) -> str | None:
        return headers.get("x-pagerduty-signature") if self.pagerduty_secret else None

    def before_body(self, headers: Any) -> str | None:
        """Why a post is refused before its body is read (None: read it)."""
        if self.signature(headers) is None and self.token and not _authorized(headers.get("authorization"),
                                                                              self.token):
            return "missing or wrong bearer token"
        return None

    async def parsed(self, headers: Any, body: bytes, parse: Callable[[bytes], Post]) -> Post | str:
        """The body parsed (in a thread) once its signature holds, or why it is refused."""
        signature = self.signature(headers)
        if signature is not None and not _signed(signature, body, self.pagerduty_secret or ""):
            return "wrong X-PagerDuty-Signature"
        post = await asyncio.to_thread(parse, body)
        # Without a token asked for, nothing says an unsigned PagerDuty webhook is PagerDuty's.
        if self.pagerduty_secret and not self.token and post.pagerduty and signature is None:
            return "missing X-PagerDuty-Signature"
        return post


async def _body_or_refusal(request: Any, settings: ReceiveSettings) -> bytes | tuple[int, dict[str, str]]:
    """The body, or the answer when it took too long (408) or is too large (413)."""
    try:
        body = await _read_limited(request, settings.max_request_bytes, settings.body_timeout_seconds)
    except TimeoutError:
        return 408, {"error": f"the body did not arrive within {settings.body_timeout_seconds:g} s"}
    if body is None:
        return 413, {"error": f"request body larger than {settings.max_request_bytes} bytes"}
    return body


def _stored_answer(post: Post, noun: str) -> tuple[int, dict[str, Any]]:
    """200 with the counts when the post held at least one valid alert (change), 200 "ignored" when it held
    only events that open and resolve nothing (a 4xx would make PagerDuty give up on the subscription),
    else 400."""
    if post.alerts == post.malformed == 0 and post.ignored:
        return 200, {"status": "ignored", "ignored": post.ignored}
    if post.alerts == 0:
        first = post.errors[0] if post.errors else f"no {noun}"
        table = "raw_alerts" if noun == "alert" else "raw_changes"
        return 400, {"error": f"no valid {noun} in the body ({first}); kept in {table} with its error",
                     "malformed": post.malformed}
    stored = {"status": "stored", f"{noun}s": post.alerts, "malformed": post.malformed, "errors": post.errors}
    return 200, {**stored, "ignored": post.ignored} if post.ignored else stored


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _log_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _authorized(header: str | None, token: str) -> bool:
    if not header or not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode("utf-8"), token.encode("utf-8"))


def _signed(header: str, body: bytes, secret: str) -> bool:
    """PagerDuty's X-PagerDuty-Signature: comma-separated `v1=<hex>`, each an HMAC-SHA256 of the raw body
    under the subscription's secret (more than one while the secret is rotated); any match will do."""
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest().encode("ascii")
    given = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    return any(hmac.compare_digest(each.lower().encode("latin-1", "replace"), expected) for each in given)


async def _read_limited(request: Any, limit: int, seconds: float) -> bytes | None:
    """The body, or None when it is larger than `limit`; TimeoutError when it takes longer than
    `seconds` in all (a body sent a byte at a time holds no connection for long)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    deadline = time.monotonic() + seconds
    chunks, size = [], 0
    stream = request.stream().__aiter__()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), left)
        except StopAsyncIteration:
            break
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------- storing


class Store:
    """Where a batch goes: the same land + pass as `incidents ingest`. On the local target the
    database is opened for each batch and closed after it, so other commands (`incidents query`)
    get it in between (a batch waits up to INCIDENTS_LOCAL_WAIT for one that holds it); on Snowflake
    one session is kept (and opened again after a failure)."""

    def __init__(self, dep: Deployment, connection: str | None, cfg: IngestConfig, *, hold: bool,
                 changes: bool = False) -> None:
        self.dep, self.connection, self.cfg, self.hold = dep, connection, cfg, hold
        self.changes = changes  # POST /changes: raw_changes + the merge into change_events
        self._session: Any = None

    def __call__(self, rows: list[Row]) -> dict[str, Any]:
        from incidents.ingest import store_batch, store_changes

        session = self._session or self._open()
        try:
            if self.changes:
                result = store_changes(session, self.dep, rows)
            else:
                result = store_batch(session, self.dep, rows, cfg=self.cfg)
        except BaseException:
            self._drop(session)
            raise
        session.trace.clear()  # a receiver runs for months: keep no statement history
        if self.hold:
            self._session = session
        else:
            session.close()
        return result

    def _open(self) -> Any:
        from incidents.targets import open_session

        # The local target itself waits for another command's hold (INCIDENTS_LOCAL_WAIT, 15 s by default).
        return open_session(self.dep, connection=self.connection)

    def _drop(self, session: Any) -> None:
        self._session = None
        with contextlib.suppress(Exception):
            session.close()

    def close(self) -> None:
        if self._session is not None:
            self._drop(self._session)


# --------------------------------------------------------------------------- serving


def _guarded_protocol(settings: ReceiveSettings) -> type:
    """uvicorn's h11 protocol with what it lacks: a deadline for the request line and headers, and a
    cap on open connections that applies before anything is read (uvicorn's limit_concurrency
    answers only once the headers are in)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            full = len(self.connections) >= settings.max_connections
            super().connection_made(transport)
            if full:
                self.transport.close()
                return
            self._watch_headers()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._watch_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_watch()
            super().connection_lost(exc)

        def _watch_headers(self) -> None:
            waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
            if waiting and self._header_timer is None:
                self._header_timer = self.loop.call_later(settings.header_timeout_seconds, self._headers_late)
            elif not waiting:
                self._stop_watch()

        def _stop_watch(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


class Server:
    """uvicorn on one socket we bind ourselves (port 0 picks a free one: see `.port`)."""

    def __init__(self, app: Any, host: str, port: int, *, settings: ReceiveSettings | None = None,
                 log_level: str = "warning", grace_seconds: float = 30.0) -> None:
        import uvicorn

        settings = settings or ReceiveSettings()
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = host, self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False,
                                http=_guarded_protocol(settings), limit_concurrency=settings.max_connections,
                                timeout_graceful_shutdown=int(grace_seconds))
        batchers: list[Batcher] = app.state.batchers

        class _Uvicorn(uvicorn.Server):
            async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
                # Posts waiting for their batch would hold the graceful shutdown until the timer: flush first.
                for batcher in batchers:
                    await batcher.close_batches()
                await super().shutdown(sockets)

            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                # As uvicorn's, without raising the signal again once shut down: the process then
                # ends normally and `incidents receive` prints its summary.
                if threading.current_thread() is not threading.main_thread():
                    yield
                    return
                import signal

                handled = (signal.SIGINT, signal.SIGTERM)
                original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
                try:
                    yield
                finally:
                    for sig, handler in original.items():
                        signal.signal(sig, handler)

        self.server = _Uvicorn(config)
        self.started = threading.Event()

    def run(self) -> None:
        """Serve until stopped (signal in the main thread, or stop()); flushes before returning."""
        async def main() -> None:
            task = asyncio.ensure_future(self.server.serve(sockets=[self.sock]))
            while not self.server.started and not task.done():
                await asyncio.sleep(0.02)
            self.started.set()
            await task

        try:
            asyncio.run(main())
        finally:
            self.started.set()
            self.sock.close()

    def stop(self) -> None:
        self.server.should_exit = True
