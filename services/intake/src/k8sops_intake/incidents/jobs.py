"""Background work of incident response: report drafts after resolution and pages held back to the
next coverage start.

Both are rows of `incident_jobs`, written in the unit of work that decided them, so they survive a
restart. Any replica may run them: each claims due rows with `FOR UPDATE SKIP LOCKED` and a lease
(committed before the work, so no transaction stays open across an audit read); a replica that
dies leaves the lease to expire and the job runs again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from k8sops_common.bus.tracing import traced
from k8sops_common.jobs import Backoff, poll_rounds
from k8sops_common.service import ServiceContext

from ..requests import repository as requests_repository
from . import repository
from .paging import page_on_call_if_due
from .report import write_report
from .repository import JobRecord
from .settings import incident_settings

log = logging.getLogger(__name__)


async def send_held_back_page(context: ServiceContext, job: JobRecord) -> None:
    async with context.database.unit_of_work() as session:
        await repository.finish_job(session, job["id"])
        request = await requests_repository.get_request(session, job["request_id"], for_update=True)
        if request is not None:
            await page_on_call_if_due(session, context.outbox, request, held_back=True)


async def run_due_jobs(context: ServiceContext) -> int:
    """One round: claim due jobs and run each; returns how many were claimed."""
    settings = incident_settings(context)
    async with context.database.unit_of_work() as session:
        due = await repository.claim_due_jobs(
            session, settings.incident_jobs_batch, timedelta(seconds=settings.incident_jobs_lease_s)
        )
    for job in due:
        with traced():
            try:
                if job["attempts"] > settings.incident_jobs_max_attempts:
                    log.error(
                        "incident job %s (%s of %s) failed too often; given up",
                        job["id"],
                        job["kind"],
                        job["request_id"],
                    )
                    async with context.database.unit_of_work() as session:
                        await repository.finish_job(session, job["id"])
                elif job["kind"] == "report":
                    await write_report(context, job)
                else:
                    await send_held_back_page(context, job)
            except Exception:
                log.warning("incident job %s failed; it runs again when its lease ends", job["id"], exc_info=True)
    return len(due)


async def run_incident_jobs(context: ServiceContext, stopping: asyncio.Event) -> None:
    """The service's background loop."""
    poll_s = incident_settings(context).incident_jobs_poll_s
    # After a failed round, the next poll: each job keeps its own lease and retry time.
    await poll_rounds(lambda: run_due_jobs(context), poll_s, stopping, "incident jobs", Backoff(poll_s, poll_s))
