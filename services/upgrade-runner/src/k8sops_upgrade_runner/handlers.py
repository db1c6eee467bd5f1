"""upgrade-runner's consumers: thin translations of events into use cases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import ReceivedEvent, Subscriptions
from k8sops_common.events.catalog import EngagementChangedV1, RequestOpenedV1
from k8sops_common.service import ServiceContext

from . import plans, service


def subscriptions(context: ServiceContext) -> Subscriptions:
    outbox = context.outbox

    async def on_engagement_changed(session: AsyncSession, event: ReceivedEvent) -> None:
        assert isinstance(event.data, EngagementChangedV1)
        await service.apply_engagement_change(session, event.data)

    async def on_request_opened(session: AsyncSession, event: ReceivedEvent) -> None:
        assert isinstance(event.data, RequestOpenedV1)
        await plans.plan_from_request(session, outbox, event.data)

    return Subscriptions().on(EngagementChangedV1, on_engagement_changed).on(RequestOpenedV1, on_request_opened)
