"""Outbound webhook use cases: registering endpoints, and queueing signed deliveries of an event to
every endpoint that asked for it, in the transaction of the change the event reports."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import AuditTargetV1
from k8sops_common.events.envelope import utc_now

from ..auth import ensure_visible, found
from ..domain.webhooks import new_secret, target_refusal
from ..engagements.service import visible_engagement
from ..kit import Created, fingerprint_of, new_id, problem, replayed_id
from . import repository
from .repository import EndpointRecord
from .schemas import DeliveryAttemptOut, DeliveryOut, WebhookCreate, WebhookCreated, WebhookOut, WebhookUpdate


async def notify_subscribers(session: AsyncSession, engagement_id: str, event_type: str, data: dict[str, Any]) -> None:
    """Queues one signed delivery per endpoint of the engagement that asked for this event type."""
    now = utc_now()
    payload = json.dumps({"type": event_type, "timestamp": now.isoformat(), "data": data}, separators=(",", ":"))
    await repository.queue_deliveries(session, engagement_id, event_type, payload, now)


async def register_webhook(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    engagement_id: str,
    body: WebhookCreate,
    idempotency_key: str | None,
    allow_private_targets: bool,
) -> Created[WebhookCreated]:
    await visible_engagement(session, principal, engagement_id)
    endpoint_id = new_id("whk")
    replayed = await replayed_id(
        session, principal, "webhook.create", idempotency_key, fingerprint_of(body, engagement_id), endpoint_id
    )
    if replayed is not None:
        existing = await repository.get_endpoint(session, replayed)
        assert existing is not None
        return Created(WebhookCreated.model_validate(existing), is_new=False)
    refusal = target_refusal(body.url, allow_private_targets)
    if refusal:
        raise problem(422, "Webhook target refused", f"{body.url}: {refusal}.", "webhook-target-refused")
    endpoint = EndpointRecord(
        id=endpoint_id,
        engagement_id=engagement_id,
        url=body.url,
        event_types=list(body.event_types),
        secret=new_secret(),
        enabled=True,
        consecutive_failures=0,
        disabled_reason=None,
        created_by=principal.sub,
        created_at=utc_now(),
    )
    await repository.add_endpoint(session, endpoint)
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="webhook.register",
        target=AuditTargetV1(kind="WebhookEndpoint", name=endpoint_id),
        engagement_id=engagement_id,
        details={"event_types": ",".join(body.event_types)},
    )
    return Created(WebhookCreated.model_validate(endpoint), is_new=True)


async def list_webhooks(session: AsyncSession, principal: Principal, engagement_id: str) -> list[WebhookOut]:
    await visible_engagement(session, principal, engagement_id)
    return [WebhookOut.model_validate(row) for row in await repository.endpoints_of(session, engagement_id)]


async def _visible_endpoint(
    session: AsyncSession, principal: Principal, engagement_id: str, endpoint_id: str
) -> EndpointRecord:
    ensure_visible(principal, engagement_id, "engagement", engagement_id)
    endpoint = await repository.get_endpoint(session, endpoint_id, engagement_id=engagement_id, for_update=True)
    return found(endpoint, "webhook", endpoint_id)


async def update_webhook(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    engagement_id: str,
    endpoint_id: str,
    body: WebhookUpdate,
) -> WebhookOut:
    endpoint = await _visible_endpoint(session, principal, engagement_id, endpoint_id)
    if endpoint["enabled"] == body.enabled:
        return WebhookOut.model_validate(endpoint)
    values: dict[str, Any] = {"enabled": body.enabled}
    values |= (
        {"consecutive_failures": 0, "disabled_reason": None}
        if body.enabled
        else {"disabled_reason": "disabled by an admin"}
    )
    await repository.update_endpoint(session, endpoint_id, values)
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="webhook.enable" if body.enabled else "webhook.disable",
        target=AuditTargetV1(kind="WebhookEndpoint", name=endpoint_id),
        engagement_id=engagement_id,
    )
    return WebhookOut.model_validate({**endpoint, **values})


async def list_deliveries(
    session: AsyncSession, principal: Principal, engagement_id: str, endpoint_id: str, limit: int
) -> list[DeliveryOut]:
    await _visible_endpoint(session, principal, engagement_id, endpoint_id)
    deliveries = await repository.deliveries_of(session, endpoint_id, limit)
    attempts = await repository.attempts_of(session, [row["id"] for row in deliveries])
    return [
        DeliveryOut.model_validate(
            {
                **delivery,
                "attempt_log": [
                    DeliveryAttemptOut.model_validate(attempt)
                    for attempt in attempts
                    if attempt["delivery_id"] == delivery["id"]
                ],
            }
        )
        for delivery in deliveries
    ]
