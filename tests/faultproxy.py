"""A loopback TCP proxy in front of `fakesnow.server()` that cuts the network after statement k.

The connector speaks HTTP to the server, one `POST /queries/v1/query-request` per statement. The
proxy forwards bytes both ways and counts those requests; when the count passes `cut_after` it
closes every connection and refuses new ones until `heal()`, as a dropped VPN or a killed CI
runner would. Two places to cut:

- `lose="request"`: statement k+1 never reaches the server (statements 1..k ran, and their
  answers arrived);
- `lose="response"`: statement k reaches the server and runs, but its answer is lost: the client
  cannot know whether it ran (the nastier case for a deploy tool).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

QUERY_REQUEST = b"POST /queries/v1/query-request"


@dataclass
class FaultProxy:
    upstream: tuple[str, int]
    cut_after: int | None = None  # statements allowed through; None: never cut
    lose: str = "request"  # or "response"
    statements: int = 0  # query requests seen so far
    down: bool = False
    _listener: socket.socket = field(init=False, repr=False)
    _sockets: set[socket.socket] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def heal(self, cut_after: int | None = None) -> None:
        """The network is back (with a new cut point, or none)."""
        with self._lock:
            self.down, self.statements, self.cut_after = False, 0, cut_after

    def close(self) -> None:
        self._cut()
        self._listener.close()

    # ------------------------------------------------------------------ plumbing

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self.down:
                client.close()  # the network is down: connection refused, as far as the client can tell
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, server}
            doomed = threading.Event()  # this connection carries the statement whose answer is lost
            threading.Thread(target=self._requests, args=(client, server, doomed), daemon=True).start()
            threading.Thread(target=self._answers, args=(server, client, doomed), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket, doomed: threading.Event) -> None:
        try:
            while not self.down:
                data = client.recv(65536)
                if not data:
                    break
                verdict = self._verdict(data.count(QUERY_REQUEST)) if QUERY_REQUEST in data else "pass"
                if verdict == "cut":
                    self._cut()
                    break
                if verdict == "doom":
                    doomed.set()
                server.sendall(data)
        except OSError:
            pass
        finally:
            _close(client), _close(server)

    def _answers(self, server: socket.socket, client: socket.socket, doomed: threading.Event) -> None:
        try:
            while not self.down:
                data = server.recv(65536)
                if not data:
                    break
                if doomed.is_set():  # HTTP/1.1 answers in order: this is the doomed statement's answer
                    self._cut()
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client), _close(server)

    def _verdict(self, requests: int) -> str:
        """Count statements: "pass", "doom" (deliver it, lose its answer) or "cut" (lose it)."""
        with self._lock:
            self.statements += requests
            if self.cut_after is None or self.statements <= self.cut_after:
                return "pass"
            if self.lose == "response" and self.statements == self.cut_after + 1:
                return "doom"
            return "cut"

    def _cut(self) -> None:
        with self._lock:
            self.down = True
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            _close(s)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()
