"""sla-timer's consumers: thin translations of events into use cases, one transaction per batch."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import ReceivedEvent, Subscriptions
from k8sops_common.events.catalog import EngagementChangedV1, RequestOpenedV1, RequestUpdatedV1
from k8sops_common.service import ServiceContext

from .service import timers


def subscriptions(context: ServiceContext) -> Subscriptions:
    outbox = context.outbox

    async def on_engagement_changed(session: AsyncSession, event: ReceivedEvent) -> None:
        assert isinstance(event.data, EngagementChangedV1)
        await timers.apply_engagement_change(session, outbox, event.data)

    async def on_requests_opened(session: AsyncSession, events: list[ReceivedEvent]) -> None:
        # Arming in batches: one insert and one update for the whole batch instead of per request;
        # each request's arming is still audited inside the trace that opened it.
        opened: list[RequestOpenedV1] = []
        traces = {}
        for event in events:
            if isinstance(event.data, RequestOpenedV1):
                opened.append(event.data)
                traces[event.data.request_id] = event.trace_context
        await timers.open_timers(session, outbox, opened, traces)

    async def on_request_updated(session: AsyncSession, event: ReceivedEvent) -> None:
        assert isinstance(event.data, RequestUpdatedV1)
        await timers.apply_request_update(session, outbox, event.id, event.data)

    return (
        Subscriptions()
        .on(EngagementChangedV1, on_engagement_changed)
        .on_batch(RequestOpenedV1, on_requests_opened)
        .on(RequestUpdatedV1, on_request_updated)
    )
