"""sla-timer against the real PostgreSQL and broker: events go in through Kafka, the consumer is the
service's own, and the scheduler is driven with an explicit `now` so time-based rules are exact."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from k8sops_common.auth import mint_token
from k8sops_common.bus import EventConsumer, Outbox, OutboxRelay
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import (
    ClusterV1,
    EngagementChangedV1,
    EventData,
    Priority,
    RequestOpenedV1,
    RequestStatus,
    RequestUpdatedV1,
    Tier,
)
from k8sops_common.service import ServiceContext, create_app
from k8sops_common.settings import DEV_JWT_SECRET, ServiceSettings
from k8sops_sla_timer.app import DEFINITION
from k8sops_sla_timer.handlers import subscriptions
from k8sops_sla_timer.service import alerts
from tests.support.bus import send_events, wait_until_handled

CHANGED_AT = datetime.fromisoformat("2025-12-01T00:00:00+00:00")


def engagement(
    engagement_id: str,
    tier: Tier,
    timezone: str,
    *,
    working_days: list[int] | None = None,
    holiday_country: str | None = None,
    official_holidays: list[date] | None = None,
    retainers: dict[str, str] | None = None,
    on_call: str | None = "senior@provider.example",
    changed_at: datetime = CHANGED_AT,
) -> EngagementChangedV1:
    return EngagementChangedV1(
        engagement_id=engagement_id,
        change="created",
        name=f"{engagement_id} ltd",
        tier=tier,
        timezone=timezone,
        working_days=working_days if working_days is not None else [0, 1, 2, 3, 4],
        holiday_country=holiday_country,
        official_holidays=official_holidays or [],
        on_call=on_call,
        clusters=[
            ClusterV1(
                cluster_id=cluster_id,
                name=cluster_id,
                environment="prod",
                api_endpoint=f"https://{cluster_id}.example:6443",
                size_band="M",
                workload_band="50-200",
                monthly_retainer_bdt=Decimal(retainer),
            )
            for cluster_id, retainer in (retainers or {}).items()
        ],
        changed_at=changed_at,
    )


def opened(
    request_id: str, engagement_id: str, priority: Priority, opened_at: datetime, cluster_id: str | None = None
) -> RequestOpenedV1:
    return RequestOpenedV1(
        request_id=request_id,
        engagement_id=engagement_id,
        cluster_id=cluster_id,
        category="incident",
        priority=priority,
        title=f"{request_id} needs help",
        opened_at=opened_at,
        opened_by="alice@customer.example",
    )


def updated(
    request_id: str,
    engagement_id: str,
    *,
    status: RequestStatus,
    priority: Priority,
    at: datetime,
    change: Literal["acknowledged", "status_changed", "priority_changed", "commented"] = "status_changed",
) -> RequestUpdatedV1:
    return RequestUpdatedV1(
        request_id=request_id,
        engagement_id=engagement_id,
        change=change,
        status=status,
        priority=priority,
        changed_at=at,
        changed_by="oncall@provider.example",
    )


def bearer(roles: list[str], engagements: list[str], sub: str = "someone@example") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(DEV_JWT_SECRET, sub=sub, roles=roles, engagements=engagements)}"}


@dataclass
class SlaHarness:
    """The service's database, consumer and scheduler work, with a producer standing in for intake."""

    settings: ServiceSettings
    database: Database
    outbox: Outbox
    producer: AIOKafkaProducer

    async def deliver(self, *events: EventData, timeout_s: float = 30.0) -> None:
        """Publishes the events as intake would, in order, and waits until the consumer handled them."""
        ids = await send_events(self.producer, self.settings.topic_prefix, "intake", events)
        await wait_until_handled(self.database, ids, timeout_s)

    async def fire(self, now: datetime, limit: int = 500) -> alerts.FiredAlerts:
        async with self.database.unit_of_work() as session:
            return await alerts.fire_due_alerts(session, self.outbox, self.settings.schema_name, now, limit)

    async def events(self, topic: str) -> list[dict[str, Any]]:
        """The `data` of every event sla-timer wrote for `topic`, in writing order."""
        async with self.database.sessions() as session:
            rows = await session.execute(
                text("SELECT payload FROM outbox WHERE topic = :topic ORDER BY id"),
                {"topic": self.settings.topic(topic)},
            )
            return [json.loads(row.payload)["data"] for row in rows]

    async def timer(self, request_id: str) -> dict[str, Any]:
        async with self.database.sessions() as session:
            row = (
                (await session.execute(text("SELECT * FROM timers WHERE request_id = :id"), {"id": request_id}))
                .mappings()
                .one()
            )
            return dict(row)


@pytest.fixture
async def sla(isolation) -> AsyncIterator[SlaHarness]:  # type: ignore[no-untyped-def]
    settings = await isolation.settings("sla-timer", "k8sops_sla_timer.migrations")
    database = Database(engine_from_settings(settings))
    outbox = Outbox(settings)
    context = ServiceContext(settings, database, outbox, OutboxRelay(settings, database))
    consumer = EventConsumer(settings, database, subscriptions(context), retry_delay_s=0.01)
    consumer_task = asyncio.create_task(consumer.run())
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        yield SlaHarness(settings, database, outbox, producer)
    finally:
        await producer.stop()
        consumer.stop()
        await asyncio.wait_for(consumer_task, 15)
        await database.dispose()


@pytest.fixture
async def api(sla: SlaHarness) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DEFINITION, sla.settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sla-timer") as client:
        yield client
    await app.state.context.database.dispose()
