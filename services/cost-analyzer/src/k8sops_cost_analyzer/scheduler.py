"""The scheduler: a background loop that runs due analysis jobs from the `jobs` table.

Jobs are rows, not sleeping tasks, so a restart loses nothing: a quarterly review that fell due
while the process was down runs on the first poll. Every replica runs this loop; `SKIP LOCKED` and
a lease split the jobs between them. The clock is injectable (`context.extras["clock"]`) so a test
can move to the next quarter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from k8sops_common.service import ServiceContext

from .analysis import cost_settings, run_due_job

log = logging.getLogger(__name__)


def clock_of(context: ServiceContext) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = context.extras.get("clock") or (lambda: datetime.now(UTC))
    return clock


async def run_scheduler(context: ServiceContext, stopping: asyncio.Event) -> None:
    _, settings, _ = cost_settings(context)
    backoff = 0.1
    while not stopping.is_set():
        try:
            ran = await run_due_job(context, clock_of(context)())
            backoff = 0.1
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # Database away: the claim rolled back or its lease runs out; the job is tried again.
            log.warning("cost scheduler: %s; retrying in %.1fs", error, backoff)
            await _wait(stopping, backoff)
            backoff = min(backoff * 2, 5.0)
            continue
        if not ran:
            await _wait(stopping, settings.scheduler_poll_interval_s)


async def _wait(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass
