"""`incidents receive`: an HTTP endpoint Alertmanager's webhook_configs can post to.

POST / takes a webhook payload (or NDJSON alert events), GET /healthz says it is alive. Posts are
batched: a batch is flushed through the same land + pass as `incidents ingest` (one load per
batch) when it holds `batch_alerts` alerts or is `batch_seconds` old. A POST is answered only once
its batch is stored (200), so a sender never gets a 200 for alerts that are not in the database; if
the flush fails the answer is 503 and Alertmanager retries. Shutdown (Ctrl-C, SIGTERM) stops
accepting, lets waiting posts finish and flushes what is left.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from incidents.project.ingest import ReceiveSettings

FlushFn = Callable[[str], Any]  # NDJSON text of one batch -> an ingest result


@dataclass
class Stats:
    requests: int = 0
    alerts: int = 0
    loads: int = 0
    refused: int = 0
    failures: int = 0
    results: list[Any] = field(default_factory=list)


class Batcher:
    """Collects posted documents and flushes them in one ingest call, on a single worker thread
    (the database connection is used by one thread at a time)."""

    def __init__(self, flush: FlushFn, settings: ReceiveSettings, stats: Stats) -> None:
        self._flush, self.settings, self.stats = flush, settings, stats
        self._pending: list[str] = []
        self._count = 0
        self._future: asyncio.Future[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="incidents-ingest")
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Future[None]] = set()  # flushes in flight (a reference keeps them alive)
        self.closing = False  # shutting down: every post is flushed at once, nothing waits for the timer

    @property
    def pending(self) -> int:
        return self._count

    async def submit(self, text: str, alerts: int) -> Any:
        loop = asyncio.get_running_loop()
        if self._future is None:
            self._future = loop.create_future()
            self._timer = loop.call_later(self.settings.batch_seconds, self._start_flush)
        future = self._future
        self._pending.append(text)
        self._count += alerts
        if self.closing or self._count >= self.settings.batch_alerts:
            self._start_flush()
        return await asyncio.shield(future)

    def _start_flush(self) -> None:
        task = asyncio.ensure_future(self.flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_batches(self) -> None:
        """Shutdown has begun: flush what waits now and every later post at once."""
        self.closing = True
        await self.flush()

    async def flush(self) -> None:
        if self._future is None:
            return
        texts, future = self._pending, self._future
        self._pending, self._count, self._future = [], 0, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._lock:
            loop = asyncio.get_running_loop()
            try:
                result = await loop.run_in_executor(self._executor, self._flush, "\n".join(texts))
            except Exception as exc:  # reported to every waiting poster as a 503
                self.stats.failures += 1
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning when nobody waits
                return
            self.stats.loads += 1
            self.stats.results.append(result)
            future.set_result(result)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def count_alerts(body: str) -> int:
    """How many alerts a posted body holds; ValueError when it is not JSON documents at all."""
    from incidents.ingest.parse import _documents

    total = 0
    for _line, doc, problem in _documents(body):
        if problem is not None:
            raise ValueError(problem)
        total += len(doc["alerts"]) if isinstance(doc, dict) and isinstance(doc.get("alerts"), list) else 1
    if total == 0:
        raise ValueError("no alert documents in the body")
    return total


def build_app(flush: FlushFn, settings: ReceiveSettings, token: str | None, stats: Stats | None = None) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    stats = stats or Stats()
    batcher = Batcher(flush, settings, stats)

    def refuse(status: int, message: str) -> JSONResponse:
        stats.refused += 1
        return JSONResponse({"error": message}, status_code=status)

    async def receive(request: Request) -> JSONResponse:
        if token and not _authorized(request.headers.get("authorization"), token):
            return refuse(401, "missing or wrong bearer token")
        body = await _read_limited(request, settings.max_request_bytes)
        if body is None:
            return refuse(413, f"request body larger than {settings.max_request_bytes} bytes")
        try:
            text = body.decode("utf-8-sig")
            alerts = count_alerts(text)
        except ValueError as exc:  # UnicodeDecodeError is a ValueError
            # Still landed (with its error) by the next flush: what arrived is never lost.
            text, alerts = json.dumps(body.decode("utf-8", "replace")), 1
            problem: str | None = str(exc).splitlines()[0]
        else:
            problem = None
        stats.requests += 1
        stats.alerts += alerts
        try:
            await batcher.submit(text, alerts)
        except Exception as exc:
            return JSONResponse({"error": f"could not store the alerts: {str(exc).splitlines()[0][:300]}"},
                                status_code=503)
        if problem:
            return JSONResponse({"error": f"not an alert payload ({problem}); kept in raw_alerts with the error"},
                                status_code=400)
        return JSONResponse({"status": "stored", "alerts": alerts})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "pending_alerts": batcher.pending, "loads": stats.loads,
                             "requests": stats.requests})

    async def lifespan(app: Any):
        yield
        await batcher.flush()  # graceful shutdown: nothing accepted stays unflushed
        batcher.close()

    import contextlib

    app = Starlette(routes=[Route("/", receive, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
                    lifespan=contextlib.asynccontextmanager(lifespan))
    app.state.stats = stats
    app.state.batcher = batcher
    return app


def _authorized(header: str | None, token: str) -> bool:
    if not header or not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode("utf-8"), token.encode("utf-8"))


async def _read_limited(request: Any, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class Server:
    """uvicorn on one socket we bind ourselves (port 0 picks a free one: see `.port`)."""

    def __init__(self, app: Any, host: str, port: int, *, log_level: str = "warning",
                 grace_seconds: float = 30.0) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = host, self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False,
                                timeout_graceful_shutdown=int(grace_seconds))
        batcher: Batcher = app.state.batcher

        class _Uvicorn(uvicorn.Server):
            async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
                # Posts waiting for their batch would hold the graceful shutdown until the timer: flush first.
                await batcher.close_batches()
                await super().shutdown(sockets)

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
