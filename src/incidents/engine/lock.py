"""The deploy lock, so two CI jobs never apply at once (Liquibase's DATABASECHANGELOGLOCK is the model).

The lock is the existence of one table, INCIDENTS_DEPLOY_LOCK_HELD: taking it is a CREATE TABLE without
OR REPLACE or IF NOT EXISTS, which fails when the name is taken (object names are unique within a schema:
https://docs.snowflake.com/en/sql-reference/sql/create-table), so of two deploys exactly one takes it;
freeing it drops the table. Who holds it and until when is recorded in the one row of INCIDENTS_DEPLOY_LOCK
(written only by the mutex's creator). A holder that crashes stops blocking others when its lease expires:
its mutex is then renamed out of the way (a rename succeeds for one deploy only: the name is gone for
the others) and dropped, and the lock is taken anew. The lease is renewed while a long deploy runs;
`incidents unlock` frees the lock by hand. On the local target only one process can open the database at
all, so a lock found there is stale and taken over; a lock held by a process of this host that no longer
runs (a deploy that lost its network, then exited) is stale too: the holder is recorded as host/pid.
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
from incidents.project.models import LOCK_MUTEX_TABLE, LOCK_TABLE
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
    expired: bool = False  # the lease ran out, as the database's clock sees it

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
        if self.owner is None and self.host is None:
            return printable(f"deploy {self.deploy_id} (since {self.acquired_at} UTC; it has not recorded who it is "
                             "yet, or died before it did)")
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
        return self.session.query(self.dep.render(f"lock/{template}.sql.j2", lock_table=LOCK_TABLE,
                                                  mutex_table=LOCK_MUTEX_TABLE, **extra), obj="deploy lock")

    def prepare(self) -> None:
        """Create the holder table and its row if missing (both idempotent)."""
        self._run("create")
        self._run("init")

    def holder(self) -> Holder | None:
        rows = self._run("read")
        if not rows or rows[0]["DEPLOY_ID"] is None:
            return None
        r = rows[0]
        return Holder(r["DEPLOY_ID"], r["OWNER"], r["HOST"], r["ACQUIRED_AT"], r["EXPIRES_AT"], bool(r["EXPIRED"]))

    def try_acquire(self) -> Holder | None:
        """Take the lock; None when we hold it now, else who does."""
        try:
            self._run("take", deploy_id=self.deploy_id)
        except TargetError as exc:
            if "already exists" not in str(exc).lower():
                raise
            holder = self._mutex_holder()
            if holder is None:
                return Holder(None, None, None, None, None)  # freed since: the next round takes it
            if holder.deploy_id != self.deploy_id:
                recorded = self.holder()
                return recorded if recorded is not None and recorded.deploy_id == holder.deploy_id else holder
        self._run("set_holder", deploy_id=self.deploy_id, owner=_user(), host=_host(), lease_seconds=LEASE_SECONDS)
        self.renewed_at = time.monotonic()
        return None

    def _mutex_holder(self) -> Holder | None:
        """The mutex's creator (owner and host unknown), None when there is no mutex."""
        try:
            rows = self._run("mutex_holder", lease_seconds=LEASE_SECONDS)
        except TargetError:
            return None
        if not rows:
            return None
        r = rows[0]
        return Holder(str(r["DEPLOY_ID"]), None, None, r["TAKEN_AT"], None, bool(r["EXPIRED"]))

    def acquire(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the lock; TargetError (exit 3) names the holder."""
        deadline = time.monotonic() + max(timeout, 0.0)
        took_over = False
        while True:
            holder = self.try_acquire()
            if holder is None:
                return
            if (self.session.backend == "local" or holder.dead_here or holder.expired) and not took_over:
                took_over = True
                # The local database admits one process at a time (DuckDB's file lock), so a holder
                # found there is a deploy that was killed; so is a holder whose process here is gone,
                # and one whose lease ran out.
                self._take_over()
                continue
            if time.monotonic() >= deadline:
                raise TargetError(f"deploy in progress by {holder}; wait for it, pass --lock-timeout SECONDS to "
                                  "wait longer, or run `incidents unlock` if that deploy is dead",
                                  obj=f"{self.dep.database}.{self.dep.schema}")
            self.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))

    def _take_over(self) -> None:
        """Set a stale holder's mutex aside (one deploy wins the rename) and drop it."""
        aside = f"{LOCK_MUTEX_TABLE}_{self.deploy_id.replace('-', '_')}"
        try:
            self._run("set_aside", aside_table=aside)
        except TargetError:
            return  # gone already, or another deploy set it aside first: take it in the next round
        self._run("drop_mutex", table=aside)
        self._run("release", deploy_id=None)

    def renew(self) -> None:
        """Extend the lease when half of it has passed (no round trip otherwise)."""
        if time.monotonic() - self.renewed_at > LEASE_SECONDS / 2:
            self._run("renew", deploy_id=self.deploy_id, lease_seconds=LEASE_SECONDS)
            self.renewed_at = time.monotonic()

    def release(self) -> None:
        """Free the lock if it is still ours (after an expiry another deploy may have taken it)."""
        mutex = self._mutex_holder()
        if mutex is not None and mutex.deploy_id == self.deploy_id:
            self._run("release", deploy_id=self.deploy_id)
            self._run("drop_mutex", table=LOCK_MUTEX_TABLE)


def unlock(session: Session, dep: Deployment) -> Holder | None:
    """Free the lock whoever holds it; return who did (None when it was free or never created)."""
    lock = DeployLock(session, dep, deploy_id="")
    try:
        holder = lock.holder()
    except TargetError:
        return None  # no lock table: nothing was ever deployed here
    mutex = lock._mutex_holder()
    if mutex is not None:
        lock._run("drop_mutex", table=LOCK_MUTEX_TABLE)
    if holder is not None:
        lock._run("release", deploy_id=None)
    return holder or mutex


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _host() -> str:
    return f"{socket.gethostname()}/{os.getpid()}"  # host/pid: see Holder.dead_here
