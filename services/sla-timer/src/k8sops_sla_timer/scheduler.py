"""The scheduler: a background loop that fires due SLA alerts from the `timers` table.

Timers are rows, not sleeping tasks, so a restart loses nothing: whatever fell due while the
process was down is found on the first poll. Every replica runs this loop; `SKIP LOCKED` splits
the due rows between them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select

from k8sops_common.service import ServiceContext

from .models import timers
from .service import alerts
from .settings import SchedulerSettings

log = logging.getLogger(__name__)

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
    backoff = 0.1
    while not stopping.is_set():
        try:
            if loop.time() - counted_at > OPEN_TIMERS_EVERY_S:
                counted_at = loop.time()
                OPEN_TIMERS.labels(context.settings.service_name).set(await count_open_timers(context))
            fired = await fire_once(context, settings.scheduler_batch_size)
            backoff = 0.1
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # Database away or a lock conflict: the transaction rolled back, nothing was fired.
            log.warning("sla scheduler: %s; retrying in %.1fs", error, backoff)
            await _wait(stopping, backoff)
            backoff = min(backoff * 2, 5.0)
            continue
        if fired.timers < settings.scheduler_batch_size:
            await _wait(stopping, settings.scheduler_poll_interval_s)


async def _wait(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass
