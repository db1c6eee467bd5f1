"""Background work: delivering outbound webhooks, signed, with retries and per-attempt logs.

Deliveries are rows written in the same transaction as the change they report. Any replica may
send them: each claims due rows with `FOR UPDATE SKIP LOCKED` and a lease, so no row is sent by two
replicas at once, and a crash only delays a delivery until the lease runs out.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from k8sops_common.bus.tracing import traced
from k8sops_common.events.catalog import AuditTargetV1
from k8sops_common.events.envelope import utc_now
from k8sops_common.jobs import Backoff, poll_rounds
from k8sops_common.service import ServiceContext

from ..domain.webhooks import address_is_private, retry_delay, sign
from ..kit import system_audit
from ..settings import WebhookSettings, webhook_settings
from . import repository
from .repository import DueDelivery


async def _resolves_to_private(url: str) -> bool:
    """Checked at send time too: a public name may point at a private address by now."""
    host = urlsplit(url).hostname or ""
    try:
        if address_is_private(host):
            return True
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return False  # the send fails and is retried like any other failure
    return any(address_is_private(str(info[4][0])) for info in infos)


async def _send(
    client: httpx.AsyncClient, delivery: DueDelivery, settings: WebhookSettings
) -> tuple[int | None, str | None]:
    """Returns (HTTP status, error); a 2xx status with no error is success."""
    if not settings.allow_private_targets and await _resolves_to_private(delivery["url"]):
        return None, "target resolves to a loopback or private address"
    body = delivery["payload"].encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery["message_id"],
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(delivery["secret"], delivery["message_id"], timestamp, body),
    }
    try:
        response = await client.post(delivery["url"], content=body, headers=headers)
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


async def _record_outcome(
    context: ServiceContext,
    delivery: DueDelivery,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    settings: WebhookSettings,
) -> None:
    async with context.database.unit_of_work() as session:
        now = utc_now()
        attempts = delivery["attempts"] + 1
        await repository.add_attempt(
            session,
            {
                "delivery_id": delivery["id"],
                "attempted_at": now,
                "status_code": status_code,
                "error": error,
                "duration_ms": duration_ms,
            },
        )
        endpoint = await repository.get_endpoint(session, delivery["endpoint_id"], for_update=True)
        assert endpoint is not None
        if error is None:
            await repository.update_delivery(
                session, delivery["id"], {"status": "delivered", "attempts": attempts, "delivered_at": now}
            )
            await repository.update_endpoint(session, endpoint["id"], {"consecutive_failures": 0})
            return
        gave_up = attempts >= settings.max_attempts
        await repository.update_delivery(
            session,
            delivery["id"],
            {
                "status": "failed" if gave_up else "pending",
                "attempts": attempts,
                "next_attempt_at": now + retry_delay(attempts, settings.retry_base, settings.retry_max),
            },
        )
        failures = endpoint["consecutive_failures"] + 1
        values: dict[str, Any] = {"consecutive_failures": failures}
        if endpoint["enabled"] and failures >= settings.disable_after_failures:
            reason = f"disabled after {failures} consecutive failed attempts; last: {error}"
            values |= {"enabled": False, "disabled_reason": reason}
            # The owner is told through the audit trail of their engagement and the endpoint's status.
            await system_audit(
                session,
                context.outbox,
                "webhook.auto_disable",
                AuditTargetV1(kind="WebhookEndpoint", name=endpoint["id"]),
                endpoint["engagement_id"],
                {"consecutive_failures": failures, "last_error": error[:200], "url": endpoint["url"]},
            )
        await repository.update_endpoint(session, endpoint["id"], values)


async def deliver_due_webhooks(context: ServiceContext, client: httpx.AsyncClient, settings: WebhookSettings) -> int:
    """One round: claim due deliveries, send them concurrently, record each outcome. Returns how many."""
    async with context.database.unit_of_work() as session:
        due = await repository.claim_due_deliveries(session, settings.batch_size, timedelta(seconds=settings.lease_s))

    async def attempt(delivery: DueDelivery) -> None:
        # The loop polls untraced; a delivery it found is traced (the POST and its bookkeeping).
        with traced():
            started = time.perf_counter()
            status_code, error = await _send(client, delivery, settings)
            duration_ms = int((time.perf_counter() - started) * 1000)
            await _record_outcome(context, delivery, status_code, error, duration_ms, settings)

    await asyncio.gather(*(attempt(delivery) for delivery in due))
    return len(due)


async def deliver_webhooks(context: ServiceContext, stopping: asyncio.Event) -> None:
    """The service's background loop; survives database outages by trying again later."""
    settings = webhook_settings(context)
    async with httpx.AsyncClient(timeout=settings.timeout_s, follow_redirects=False) as client:
        await poll_rounds(
            lambda: deliver_due_webhooks(context, client, settings),
            settings.poll_interval_s,
            stopping,
            "webhook delivery",
            Backoff(settings.poll_interval_s, settings.poll_interval_s),  # after a failed round, the next poll
        )
