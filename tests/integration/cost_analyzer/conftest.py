"""cost-analyzer against the real PostgreSQL, broker and sandbox cluster: intake's events go in
through Kafka, the cluster is read over HTTP (kubernetes-asyncio, Prometheus API), and analysis
jobs are run with an explicit clock so quarterly reviews can be reached by time travel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from k8sops_common.auth import mint_token
from k8sops_common.bus import EventConsumer
from k8sops_common.events.catalog import ClusterV1, EngagementChangedV1, EventData, RequestOpenedV1
from k8sops_common.service import ServiceContext, create_app
from k8sops_common.settings import DEV_JWT_SECRET, ServiceSettings
from k8sops_cost_analyzer.analysis import run_due_job
from k8sops_cost_analyzer.app import DEFINITION
from k8sops_cost_analyzer.domain.findings import AnalysisConfig
from k8sops_cost_analyzer.settings import ClusterAccessSettings, CostSettings
from k8sops_sandbox.server import Sandbox, run_sandbox
from tests.conftest import DAY_S
from tests.support.browser import chromium  # noqa: F401 - the fixture, for the report tests
from tests.support.bus import send_events, wait_until_handled
from tests.support.sandbox import wait_for_running_pods

ENGAGEMENT = "eng-cost"
CLUSTER = "cost-prod"  # named like the sandbox context, so it is found without a mapping


def bearer(
    roles: list[str], sub: str = "someone@example", engagements: tuple[str, ...] = (ENGAGEMENT,)
) -> dict[str, str]:
    token = mint_token(DEV_JWT_SECRET, sub=sub, roles=roles, engagements=list(engagements), ttl_s=DAY_S)
    return {"Authorization": f"Bearer {token}"}


ADMIN = bearer(["k8s-ops.admin"], "rahim@customer.example")
VIEWER = bearer(["k8s-ops.viewer"], "viewer@customer.example")
OPERATOR = bearer(["k8s-ops.operator"], "oncall@provider.example")
SENIOR = bearer(["k8s-ops.senior"], "senior@provider.example")


def engagement_event(changed_at: datetime, timezone: str = "Asia/Dhaka") -> EngagementChangedV1:
    return EngagementChangedV1(
        engagement_id=ENGAGEMENT,
        change="created",
        name="Cost Ltd",
        tier="k8s-247",
        timezone=timezone,
        working_days=[6, 0, 1, 2, 3],
        clusters=[
            ClusterV1(
                cluster_id=CLUSTER,
                name=CLUSTER,
                environment="prod",
                api_endpoint="https://cost-prod.example:6443",
                size_band="M",
                workload_band="<50",
                monthly_retainer_bdt=Decimal("100000"),
            )
        ],
        changed_at=changed_at,
    )


def cost_request(request_id: str, opened_at: datetime) -> RequestOpenedV1:
    return RequestOpenedV1(
        request_id=request_id,
        engagement_id=ENGAGEMENT,
        cluster_id=CLUSTER,
        category="cost-optimization",
        priority="P4",
        title="Why is our bill so high?",
        opened_at=opened_at,
        opened_by="rahim@customer.example",
    )


@dataclass
class CostHarness:
    settings: ServiceSettings
    context: ServiceContext
    producer: AIOKafkaProducer
    api: httpx.AsyncClient
    sandbox: Sandbox
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.context.extras["clock"] = lambda: self.now

    async def deliver(self, *events: EventData, timeout_s: float = 30.0) -> None:
        """Publishes the events as intake would and waits until the consumer handled them."""
        ids = await send_events(self.producer, self.settings.topic_prefix, "intake", events)
        await wait_until_handled(self.context.database, ids, timeout_s)

    async def run_jobs(self) -> int:
        """Runs every job due at `now`, as the scheduler loop would."""
        ran = 0
        while await run_due_job(self.context, self.now):
            ran += 1
        return ran

    async def events(self, topic: str) -> list[dict[str, Any]]:
        async with self.context.database.sessions() as session:
            rows = await session.execute(
                text("SELECT payload FROM outbox WHERE topic = :topic ORDER BY id"),
                {"topic": self.settings.topic(topic)},
            )
            return [json.loads(row.payload)["data"] for row in rows]

    async def onboard(self) -> dict[str, Any]:
        """Intake announces the cluster; its onboarding assessment runs; returns that analysis."""
        await self.deliver(engagement_event(self.now))
        assert await self.run_jobs() == 1
        response = await self.api.get("/v1/cost/assessments", headers=VIEWER)
        response.raise_for_status()
        (assessment,) = response.json()
        return dict(assessment)


@pytest.fixture
async def cost(isolation: Any, tmp_path: Path) -> AsyncIterator[CostHarness]:
    settings = await isolation.settings("cost-analyzer", "k8sops_cost_analyzer.migrations")
    app = create_app(DEFINITION, settings)
    context: ServiceContext = app.state.context
    assert DEFINITION.subscriptions is not None
    consumer = EventConsumer(settings, context.database, DEFINITION.subscriptions(context), retry_delay_s=0.01)
    async with run_sandbox("cost-review", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        context.extras["cost_settings"] = (
            ClusterAccessSettings(kubeconfig=str(sandbox.kubeconfig_path), prometheus_url=sandbox.prometheus_url),
            CostSettings(),
            AnalysisConfig(),
        )
        consumer_task = asyncio.create_task(consumer.run())
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=False)
        await producer.start()
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://cost-analyzer") as api:
                harness = CostHarness(settings, context, producer, api, sandbox)
                await wait_for_running_pods(sandbox, CLUSTER)
                yield harness
        finally:
            await producer.stop()
            consumer.stop()
            await asyncio.wait_for(consumer_task, 15)
            await context.database.dispose()
