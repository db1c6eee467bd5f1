"""The scheduler: a background loop that fires due SLA alerts from the `timers` table.

Timers are rows, not sleeping tasks, so a restart loses nothing: whatever fell due while the
process was down is found on the first poll. Every replica runs this loop; `SKIP LOCKED` splits
the due rows between them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select

from k8sops_common.jobs import poll_rounds
from k8sops_common.service import ServiceContext

from .models import timers
from .service import alerts
from .settings import SchedulerSettings

ALERTS_FIRED = Counter("k8sops_sla_alerts_fired_total", "SLA alerts fired by this process", ["service", "alert"])
OPEN_TIMERS = Gauge("k8sops_sla_open_timers", "Timers with an alert still to fire", ["service"])
OPEN_TIMERS_EVERY_S = 5.0


async def fire_once(context: ServiceContext, batch_size: int) -> alerts.FiredAlerts:
    """One transaction: claim a batch of due timers, fire their alerts, commit."""
    now = datetime.now(UTC)
    async with context.database.unit_of_work() as session:
        fired = await alerts.fire_due_alerts(session, context.outbox, context.settings.schema_name, now, batch_size)
    name = context.settings.service_name
    for alert, count in (("warning", fired.warnings), ("breach", fired.breaches), ("escalation", fired.escalations)):
        if count:
            ALERTS_FIRED.labels(name, alert).inc(count)
    return fired


async def count_open_timers(context: ServiceContext) -> int:
    async with context.database.sessions() as session:
        query = select(func.count()).select_from(timers).where(timers.c.next_alert_at.is_not(None))
        count = await session.scalar(query)
    return int(count or 0)


async def run_scheduler(context: ServiceContext, stopping: asyncio.Event) -> None:
    settings = SchedulerSettings()
    loop = asyncio.get_running_loop()
    counted_at = 0.0

    async def fire_round() -> bool:
        """True while batches come back full: more may be due right now."""
        nonlocal counted_at
        if loop.time() - counted_at > OPEN_TIMERS_EVERY_S:
            counted_at = loop.time()
            OPEN_TIMERS.labels(context.settings.service_name).set(await count_open_timers(context))
        fired = await fire_once(context, settings.scheduler_batch_size)
        return fired.timers >= settings.scheduler_batch_size

    await poll_rounds(fire_round, settings.scheduler_poll_interval_s, stopping, "sla scheduler")
