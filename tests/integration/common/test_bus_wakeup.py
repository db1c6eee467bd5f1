"""An idle relay sleeps until the outbox trigger's NOTIFY wakes it (`bus/wakeup.py`), not a 50 ms poll.

Every relay here has both polls (`outbox_idle_poll_s`, and `outbox_poll_interval_s` while not
listening) set to an hour, and the verify timer too: a row reaches the broker within the tests'
generous waits only if a notification, or the poll right after a (re)connect, woke the relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from k8sops_common.bus import Outbox, OutboxRelay
from k8sops_common.bus.republish import republish_since
from k8sops_common.bus.wakeup import OutboxWakeup
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.settings import ServiceSettings

from .test_bus_durability import read_topic
from .test_bus_roundtrip import write_events

Eventually = Callable[..., Awaitable[object]]
HOUR_S = 3600.0


@pytest.fixture
async def service(isolation) -> AsyncIterator[tuple[ServiceSettings, Database]]:  # type: ignore[no-untyped-def]
    settings = await isolation.settings(
        "intake",
        "k8sops_intake.migrations",
        outbox_idle_poll_s=HOUR_S,
        outbox_poll_interval_s=HOUR_S,
        outbox_verify_interval_s=HOUR_S,
    )
    database = Database(engine_from_settings(settings))
    yield settings, database
    await database.dispose()


async def listeners(database: Database, wakeup: OutboxWakeup) -> list[tuple[int, float]]:
    """The listening connections' backends: pid, and how long it had been connected at its last statement."""
    async with database.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT pid, coalesce(extract(epoch FROM query_start - backend_start)::float, 0) AS alive_s"
                " FROM pg_stat_activity WHERE application_name = :name"
            ),
            {"name": wakeup.application_name},
        )
        return [(row.pid, row.alive_s) for row in rows]


async def listener_pids(database: Database, wakeup: OutboxWakeup) -> list[int]:
    return [pid for pid, _ in await listeners(database, wakeup)]


async def test_a_commit_or_a_republish_wakes_the_listener(
    service: tuple[ServiceSettings, Database], eventually: Eventually
) -> None:
    settings, database = service
    # Its keepalive (every `outbox_idle_poll_s`) often: one connection lives through many of them.
    wakeup, stopping = OutboxWakeup(settings.model_copy(update={"outbox_idle_poll_s": 0.05})), asyncio.Event()
    async with wakeup.listening_until(stopping):
        kept_alive = await eventually(
            lambda: listeners(database, wakeup), lambda found: len(found) == 1 and found[0][1] > 0.5, 60
        )
        await wakeup.wait(0, stopping)  # the poll owed to the connect
        await write_events(database, Outbox(settings), ["req-1"])
        await asyncio.wait_for(wakeup.wait(HOUR_S, stopping), 60)
        # The operator's republish command marks rows unsent without inserting any: it notifies too.
        assert await republish_since(settings, "request.opened", datetime.now(UTC) - timedelta(hours=1)) == 0
        await asyncio.wait_for(wakeup.wait(HOUR_S, stopping), 60)
        assert wakeup.listening and await listener_pids(database, wakeup) == [kept_alive[0][0]]  # type: ignore[index]
        stopping.set()


async def test_idle_replicas_publish_a_committed_row_at_once(
    service: tuple[ServiceSettings, Database], eventually: Eventually
) -> None:
    settings, database = service
    relays = [OutboxRelay(settings, database) for _ in range(2)]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        await eventually(lambda: listener_pids(database, relays[0]._wakeup), lambda pids: len(pids) == 2, 60)
        # Both listening: only a notification can wake them now (the poll after connecting may still
        # be running, which would only publish the rows earlier).
        event_ids = await write_events(database, Outbox(settings), ["req-1", "req-2"])
        await eventually(relays[0].backlog, lambda backlog: backlog == 0, 60)
    finally:
        for relay in relays:
            await relay.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    # Woken together, published once: the advisory lock let one relay through.
    assert await read_topic(settings.kafka_bootstrap_servers, settings.topic("request.opened"), 2) == event_ids


async def test_a_relay_whose_listening_connection_was_killed_still_publishes(
    service: tuple[ServiceSettings, Database], eventually: Eventually
) -> None:
    settings, database = service
    relay = OutboxRelay(settings, database)
    task = asyncio.create_task(relay.run())
    try:
        pids = await eventually(lambda: listener_pids(database, relay._wakeup), lambda pids: len(pids) == 1, 60)
        async with database.sessions() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})  # type: ignore[index]
        # Most likely committed while nobody listens: the poll after reconnecting publishes it.
        await write_events(database, Outbox(settings), ["while-away"])
        await eventually(relay.backlog, lambda backlog: backlog == 0, 60)
        await eventually(lambda: listener_pids(database, relay._wakeup), lambda now: len(now) == 1 and now != pids, 60)
        await write_events(database, Outbox(settings), ["after-reconnect"])
        await eventually(relay.backlog, lambda backlog: backlog == 0, 60)
    finally:
        await relay.stop()
        await asyncio.wait_for(task, 10)
