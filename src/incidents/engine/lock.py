"""The deploy lock: one row in INCIDENTS_DEPLOY_LOCK, taken atomically, so two CI jobs never apply
at once (Liquibase's DATABASECHANGELOGLOCK is the model).

Taking the lock is one UPDATE that succeeds only when the row is free, expired or already ours;
Snowflake serialises DML on a table, so of two concurrent UPDATEs exactly one wins and the other
sees the winner's row. A holder that crashes stops blocking others when its lease expires; the
lease is renewed while a long deploy runs; `incidents unlock` frees it by hand. On the local target
only one process can open the database at all, so a lock found there is stale and taken over. A
lock held by a process of this host that no longer runs (a deploy that lost its network, then
exited) is stale too: the holder is recorded as host/pid, as lock files do.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from incidents.errors import TargetError, printable
from incidents.project.deployment import Deployment
from incidents.project.models import LOCK_TABLE
from incidents.sql.session import Session

LEASE_SECONDS = 1800  # a crashed holder blocks others for at most this long (renewed at half time)
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Holder:
    deploy_id: str | None
    owner: str | None
    host: str | None
    acquired_at: Any
    expires_at: Any

    @property
    def dead_here(self) -> bool:
        """Held by a process of this host that is gone (its pid no longer exists)."""
        name, _, pid = (self.host or "").rpartition("/")
        if name != socket.gethostname() or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False  # exists, owned by someone else
        return False

    def __str__(self) -> str:
        # The row is data anyone with write access could have set: no newline or escape code gets through.
        who = f"{self.owner or '?'}@{self.host or '?'}"
        return printable(f"{who} since {self.acquired_at} UTC (deploy {self.deploy_id}; the lock expires "
                         f"{self.expires_at} UTC)")


class DeployLock:
    """prepare(), acquire(timeout), renew() while working, release()."""

    def __init__(self, session: Session, dep: Deployment, deploy_id: str, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.session, self.dep, self.deploy_id = session, dep, deploy_id
        self.sleep = sleep
        self.renewed_at = 0.0

    def _run(self, template: str, **extra: Any) -> list[dict[str, Any]]:
        return self.session.query(self.dep.render(f"lock/{template}.sql.j2", lock_table=LOCK_TABLE, **extra),
                                  obj="deploy lock")

    def prepare(self) -> None:
        """Create the lock table and its row if missing (both idempotent)."""
        self._run("create")
        self._run("init")

    def holder(self) -> Holder | None:
        rows = self._run("read")
        if not rows or rows[0]["DEPLOY_ID"] is None:
            return None
        r = rows[0]
        return Holder(r["DEPLOY_ID"], r["OWNER"], r["HOST"], r["ACQUIRED_AT"], r["EXPIRES_AT"])

    def try_acquire(self) -> Holder | None:
        """Take the lock; None when we hold it now, else who does."""
        self._run("acquire", deploy_id=self.deploy_id, owner=_user(), host=_host(), lease_seconds=LEASE_SECONDS)
        self.renewed_at = time.monotonic()
        holder = self.holder()
        return None if holder is not None and holder.deploy_id == self.deploy_id else holder

    def acquire(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the lock; TargetError (exit 3) names the holder."""
        deadline = time.monotonic() + max(timeout, 0.0)
        took_over = False
        while True:
            holder = self.try_acquire()
            if holder is None:
                return
            if (self.session.backend == "local" or holder.dead_here) and not took_over:
                took_over = True
                # The local database admits one process at a time (DuckDB's file lock), so a holder
                # found there is a deploy that was killed; so is a holder whose process here is gone.
                self._run("release", deploy_id=holder.deploy_id)
                continue
            if time.monotonic() >= deadline:
                raise TargetError(f"deploy in progress by {holder}; wait for it, pass --lock-timeout SECONDS to "
                                  "wait longer, or run `incidents unlock` if that deploy is dead",
                                  obj=f"{self.dep.database}.{self.dep.schema}")
            self.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))

    def renew(self) -> None:
        """Extend the lease when half of it has passed (no round trip otherwise)."""
        if time.monotonic() - self.renewed_at > LEASE_SECONDS / 2:
            self.try_acquire()

    def release(self) -> None:
        self._run("release", deploy_id=self.deploy_id)


def unlock(session: Session, dep: Deployment) -> Holder | None:
    """Free the lock whoever holds it; return who did (None when it was free or never created)."""
    lock = DeployLock(session, dep, deploy_id="")
    try:
        holder = lock.holder()
    except TargetError:
        return None  # no lock table: nothing was ever deployed here
    if holder is not None:
        lock._run("release", deploy_id=None)
    return holder


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _host() -> str:
    return f"{socket.gethostname()}/{os.getpid()}"  # host/pid: see Holder.dead_here
