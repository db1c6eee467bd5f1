"""The scheduler: a background loop that runs due analysis jobs from the `jobs` table.

Jobs are rows, not sleeping tasks, so a restart loses nothing: a quarterly review that fell due
while the process was down runs on the first poll. Every replica runs this loop; `SKIP LOCKED` and
a lease split the jobs between them. The clock is injectable (`context.extras["clock"]`) so a test
can move to the next quarter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from k8sops_common.jobs import poll_rounds
from k8sops_common.service import ServiceContext

from .analysis import cost_settings, run_due_job


def clock_of(context: ServiceContext) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = context.extras.get("clock") or (lambda: datetime.now(UTC))
    return clock


async def run_scheduler(context: ServiceContext, stopping: asyncio.Event) -> None:
    poll_s = cost_settings(context)[1].scheduler_poll_interval_s
    await poll_rounds(lambda: run_due_job(context, clock_of(context)()), poll_s, stopping, "cost scheduler")
