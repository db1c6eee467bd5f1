"""Wakes an idle outbox relay when a transaction that wrote outbox rows commits.

Each service's outbox table has a statement-level trigger (`tables.create_outbox_notify`) that
NOTIFYs the channel named for the table's schema; PostgreSQL delivers it at commit, exactly when
the rows become visible to the relay. Each relay keeps one connection LISTENing there. Every
replica is woken and the relay's advisory lock decides which one publishes.

Notifications are only a shortcut: the relay still polls every `outbox_idle_poll_s`, every
`outbox_poll_interval_s` while the listening connection is down (it reconnects with backoff), and
once right after each (re)connect, for whatever committed while nobody listened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from ..settings import ServiceSettings

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.1
MAX_BACKOFF_S = 5.0


async def first_set(events: list[asyncio.Event], timeout_s: float) -> None:
    """Returns when any of `events` is set, or after `timeout_s`."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=max(timeout_s, 0.0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class OutboxWakeup:
    """One LISTEN connection per relay; `wait` returns at the first notification after the last wait."""

    def __init__(self, settings: ServiceSettings) -> None:
        # asyncpg itself takes the plain scheme (and a socket folder as `?host=`).
        self._dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._channel = settings.schema_name
        # Names the connection in pg_stat_activity (PostgreSQL keeps 63 bytes of it).
        self.application_name = f"outbox wakeup {settings.schema_name}"[:63]
        self._fallback_poll_s = settings.outbox_poll_interval_s
        self._keepalive_s = settings.outbox_idle_poll_s
        self._notified = asyncio.Event()
        self.listening = False

    async def wait(self, timeout_s: float, stopping: asyncio.Event) -> None:
        """Until a notification, `stopping`, or the timeout (the short fallback poll while not listening)."""
        if not self.listening:
            timeout_s = min(timeout_s, self._fallback_poll_s)
        await first_set([self._notified, stopping], timeout_s)
        # Cleared before the relay reads the outbox: a commit from now on wakes the next wait.
        self._notified.clear()

    @asynccontextmanager
    async def listening_until(self, stopping: asyncio.Event) -> AsyncIterator[None]:
        task = asyncio.create_task(self._listen_until(stopping), name="outbox-wakeup")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _listen_until(self, stopping: asyncio.Event) -> None:
        backoff = FIRST_BACKOFF_S
        while not stopping.is_set():
            try:
                await self._listen(stopping)
                backoff = FIRST_BACKOFF_S
            except Exception as error:  # the database away, or the connection lost mid-ping
                log.warning("outbox wakeup: cannot listen on %r (%s); polling meanwhile", self._channel, error)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            await first_set([stopping], backoff)

    async def _listen(self, stopping: asyncio.Event) -> None:
        connection = await asyncpg.connect(
            self._dsn, timeout=10, server_settings={"application_name": self.application_name}
        )
        closed = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: closed.set())
            await connection.add_listener(self._channel, self._on_notification)
            self.listening = True
            self._notified.set()  # whatever committed while nobody listened
            while not (stopping.is_set() or closed.is_set()):
                await first_set([stopping, closed], self._keepalive_s)
                if not (stopping.is_set() or closed.is_set()):
                    # A connection that died silently (no FIN) would otherwise listen to nothing.
                    await connection.execute("SELECT 1", timeout=10)
            if closed.is_set():
                log.warning("outbox wakeup: the listening connection closed; reconnecting")
        finally:
            self.listening = False
            # The relay may be in a long wait: back to the short fallback poll at once.
            self._notified.set()
            connection.terminate()

    def _on_notification(self, *_args: Any) -> None:
        self._notified.set()
