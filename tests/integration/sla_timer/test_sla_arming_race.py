"""Two replicas at once: one opens a request's timer while the other applies its engagement.

Each unit of work runs on its own database session; the first is held uncommitted while the second
runs, as when two sla-timer replicas (or two workers of one) consume the two topics side by side.
Whichever commits second must see the other's rows, so the timer ends armed either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import Outbox
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.settings import ServiceSettings
from k8sops_sla_timer.service import timers

from .conftest import CHANGED_AT, engagement, opened

Work = Callable[[AsyncSession], Awaitable[None]]


@pytest.fixture
async def database(isolation: Any) -> AsyncIterator[tuple[Database, ServiceSettings]]:
    settings = await isolation.settings("sla-timer", "k8sops_sla_timer.migrations")
    database = Database(engine_from_settings(settings))
    try:
        yield database, settings
    finally:
        await database.dispose()


async def run_interleaved(database: Database, first: Work, second: Work) -> None:
    """Runs `first` and holds its transaction open while `second` runs; then commits both."""
    async with database.unit_of_work() as held:
        await first(held)
        held_pid = await held.scalar(text("SELECT pg_backend_pid()"))
        later = asyncio.create_task(_in_own_transaction(database, second))
        deadline = asyncio.get_running_loop().time() + 60
        # `second` either finishes without waiting, or waits for `first`'s lock: both are final.
        while not later.done() and not await _blocked_by(database, held_pid):
            assert asyncio.get_running_loop().time() < deadline, "second unit of work neither finished nor waited"
            await asyncio.sleep(0.05)
    await asyncio.wait_for(later, 60)


async def _in_own_transaction(database: Database, work: Work) -> None:
    async with database.unit_of_work() as session:
        await work(session)


async def _blocked_by(database: Database, held_pid: int) -> bool:
    async with database.sessions() as session:
        waiting = await session.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE CAST(:held AS int) = ANY(pg_blocking_pids(pid))"),
            {"held": held_pid},
        )
    return bool(waiting)


@pytest.mark.parametrize("opened_first", [True, False], ids=["request-first", "engagement-first"])
async def test_a_timer_opened_while_its_engagement_arrives_ends_armed(
    database: tuple[Database, ServiceSettings], opened_first: bool
) -> None:
    db, settings = database
    outbox = Outbox(settings)
    requests = [opened(f"req-{n}", "eng-race", "P2", CHANGED_AT) for n in range(3)]

    async def open_requests(session: AsyncSession) -> None:
        await timers.open_timers(session, outbox, requests)

    async def apply_engagement(session: AsyncSession) -> None:
        await timers.apply_engagement_change(session, outbox, engagement("eng-race", "k8s-247", "Europe/London"))

    first, second = (open_requests, apply_engagement) if opened_first else (apply_engagement, open_requests)
    await run_interleaved(db, first, second)

    async with db.sessions() as session:
        unarmed = (await session.execute(text("SELECT request_id FROM timers WHERE due_at IS NULL"))).scalars().all()
        armed = await session.scalar(text("SELECT count(*) FROM timers WHERE due_at IS NOT NULL"))
    assert unarmed == [] and armed == len(requests)
