"""sla-timer's consumers: thin translations of events into use cases, one transaction per batch."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import ReceivedEvent, Subscriptions
from k8sops_common.events.catalog import EngagementChangedV1, RequestOpenedV1, RequestUpdatedV1
from k8sops_common.service import ServiceContext

from . import service


def subscriptions(context: ServiceContext) -> Subscriptions:
    outbox = context.outbox

    async def on_engagement_changed(session: AsyncSession, event: ReceivedEvent) -> None:
        assert isinstance(event.data, EngagementChangedV1)
        await service.apply_engagement_change(session, outbox, event.data)

    async def on_request_opened(session: AsyncSession, event: ReceivedEvent) -> None:
        # One event at a time (still one transaction per poll): arming then runs inside the
        # request's own trace, so its audit event joins the trace that opened the request.
        assert isinstance(event.data, RequestOpenedV1)
        await service.open_timers(session, outbox, [event.data])

    async def on_request_updated(session: AsyncSession, event: ReceivedEvent) -> None:
        assert isinstance(event.data, RequestUpdatedV1)
        await service.apply_request_update(session, outbox, event.id, event.data)

    return (
        Subscriptions()
        .on(EngagementChangedV1, on_engagement_changed)
        .on(RequestOpenedV1, on_request_opened)
        .on(RequestUpdatedV1, on_request_updated)
    )
