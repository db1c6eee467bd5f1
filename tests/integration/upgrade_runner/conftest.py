"""upgrade-runner against the real PostgreSQL, broker and sandbox: the service's own app (API,
consumer, outbox relay, runner loop) runs in-process; events come in through Kafka as intake
would send them; the clusters are the sandbox's, reached over HTTP only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import text

from k8sops_common.auth import mint_token
from k8sops_common.events.catalog import (
    ClusterV1,
    EngagementChangedV1,
    EventData,
    MaintenanceWindowV1,
    RequestOpenedV1,
)
from k8sops_common.service import create_app
from k8sops_common.settings import DEV_JWT_SECRET, ServiceSettings
from k8sops_sandbox.server import Sandbox, run_sandbox
from k8sops_upgrade_runner.app import DEFINITION
from k8sops_upgrade_runner.settings import RunnerSettings
from tests.conftest import DAY_S
from tests.support.bus import send_events, wait_until_handled

ENGAGEMENT = "eng-acme"
TIMEZONE = "Asia/Dhaka"


def bearer(roles: list[str], engagements: list[str] | None = None, sub: str = "someone@example") -> dict[str, str]:
    token = mint_token(DEV_JWT_SECRET, sub=sub, roles=roles, engagements=engagements or [ENGAGEMENT], ttl_s=DAY_S)
    return {"Authorization": f"Bearer {token}"}


OPERATOR = bearer(["k8s-ops.operator"], sub="oncall@provider.example")
SENIOR = bearer(["k8s-ops.senior"], sub="senior@provider.example")
ADMIN = bearer(["k8s-ops.admin"], sub="rahim@customer.example")
REQUESTER = bearer(["k8s-ops.requester"], sub="alice@customer.example")
VIEWER = bearer(["k8s-ops.viewer"], sub="bob@customer.example")


def window_around(now: datetime, *, open_now: bool) -> MaintenanceWindowV1:
    """A weekly window that is open now (started an hour ago), or that opened and closed yesterday."""
    local = now.astimezone(ZoneInfo(TIMEZONE))
    start = local - timedelta(hours=1) if open_now else local - timedelta(days=1, hours=1)
    return MaintenanceWindowV1(weekday=start.weekday(), start_local=start.strftime("%H:%M"), duration_minutes=180)


def cluster_event(sandbox: Sandbox, name: str, environment: str = "prod", paired: str | None = None) -> ClusterV1:
    return ClusterV1(
        cluster_id=name,
        name=name,
        environment=environment,
        paired_cluster_id=paired,
        api_endpoint=sandbox.kube_urls[name],
        size_band="M",
        workload_band="50-200",
        monthly_retainer_bdt=Decimal("100000.00"),
    )


def acme_with_staging(sandbox: Sandbox, *, window_open: bool) -> EngagementChangedV1:
    """acme-prod staged on acme-staging, with a window open now or closed until next week."""
    clusters = [
        cluster_event(sandbox, "acme-staging", "non-prod"),
        cluster_event(sandbox, "acme-prod", paired="acme-staging"),
    ]
    return engagement_event(clusters, window_around(datetime.now(UTC), open_now=window_open))


def engagement_event(clusters: list[ClusterV1], window: MaintenanceWindowV1 | None) -> EngagementChangedV1:
    return EngagementChangedV1(
        engagement_id=ENGAGEMENT,
        change="created",
        name="Acme",
        tier="k8s-247",
        timezone=TIMEZONE,
        working_days=[6, 0, 1, 2, 3],
        maintenance_window=window,
        clusters=clusters,
        changed_at=datetime.now(UTC),
    )


def upgrade_request(request_id: str, cluster_id: str) -> RequestOpenedV1:
    return RequestOpenedV1(
        request_id=request_id,
        engagement_id=ENGAGEMENT,
        cluster_id=cluster_id,
        category="cluster-upgrade",
        priority="P3",
        title=f"Upgrade {cluster_id}",
        opened_at=datetime.now(UTC),
        opened_by="alice@customer.example",
    )


def credentials_of(sandbox: Sandbox, tokens: dict[str, str] | None = None) -> str:
    """The secret store's files for the sandbox's clusters: reference `vault://k8s/<cluster>/admin`
    holds that cluster's token (or the one `tokens` gives, to hand a cluster the wrong one)."""
    assert sandbox.kubeconfig_path is not None
    directory = sandbox.kubeconfig_path.parent / "credentials"
    for name in sandbox.kube_urls:
        path = directory / "vault" / "k8s" / name / "admin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((tokens or {}).get(name) or sandbox.auth.issue(name))
    return str(directory)


def cluster_record(sandbox: Sandbox, name: str) -> dict[str, str]:
    """The runner's record of a sandbox cluster, as `open_cluster` takes it."""
    return {"name": name, "api_endpoint": sandbox.kube_urls[name], "credentials_ref": f"vault://k8s/{name}/admin"}


def fast_runner(sandbox: Sandbox, **overrides: Any) -> RunnerSettings:
    values: dict[str, Any] = {
        "platform_api_url": sandbox.platform_url,
        "drain_timeout_s": 30,
        "eviction_retry_s": 0.2,
        "drain_poll_s": 0.05,
        "platform_poll_s": 0.05,
        "poll_interval_s": 0.05,
        "lease_ttl_s": 3,
        "postcheck_timeout_s": 20,
        "node_ready_timeout_s": 30,
        **overrides,
    }
    if "credentials_dir" not in values:
        values["credentials_dir"] = credentials_of(sandbox)
    return RunnerSettings(**values)


def speed_up(sandbox: Sandbox) -> None:
    timing = sandbox.scenario.timing
    timing.node_ready_seconds = 0.1
    timing.pod_start_seconds = 0.05
    timing.control_plane_upgrade_seconds = 0.1


async def pin_a_pod_behind_a_strict_budget(kube: str, node: str) -> None:
    """A pod on `node` whose PDB allows no eviction: the drain of that node waits until it is gone."""
    async with httpx.AsyncClient(base_url=kube) as http:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "pinned", "namespace": "shop", "labels": {"pin": "yes"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
        }
        budget = {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "pinned", "namespace": "shop"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"pin": "yes"}}},
        }
        assert (await http.post("/api/v1/namespaces/shop/pods", json=pod)).status_code == 201
        assert (await http.post("/apis/policy/v1/namespaces/shop/poddisruptionbudgets", json=budget)).status_code == 201

        async def running_behind_budget() -> bool:
            # A Pending pod is always evictable: the budget holds only once the pod runs.
            pinned = (await http.get("/api/v1/namespaces/shop/pods/pinned")).json()
            held = (await http.get("/apis/policy/v1/namespaces/shop/poddisruptionbudgets/pinned")).json()
            return (
                pinned["status"].get("phase") == "Running" and (held.get("status") or {}).get("disruptionsAllowed") == 0
            )

        await Harness.until(running_behind_budget, bool, 30)


@dataclass
class Harness:
    settings: ServiceSettings
    sandbox: Sandbox
    producer: AIOKafkaProducer
    apps: list[FastAPI] = field(default_factory=list)
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    api: httpx.AsyncClient | None = None

    async def start_runner(self, runner: RunnerSettings) -> FastAPI:
        """One more runner process-equivalent: API, consumer, relay and loop on the same schema."""
        app = create_app(DEFINITION, self.settings)
        app.state.context.extras["runner_settings"] = runner
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        self.apps.append(app)
        if self.api is None:
            self.api = await self.stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://upgrade-runner")
            )
        return app

    async def deliver(self, *events: EventData, timeout_s: float = 30.0) -> None:
        """Publishes the events as intake would and waits until upgrade-runner handled them."""
        ids = await send_events(self.producer, self.settings.topic_prefix, "intake", events)
        await wait_until_handled(self.apps[0].state.context.database, ids, timeout_s)

    async def scalar(self, query: Any) -> Any:
        async with self.apps[0].state.context.database.sessions() as session:
            return await session.scalar(query)

    async def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self.apps[0].state.context.database.sessions() as session:
            return [dict(row) for row in (await session.execute(text(sql), params)).mappings()]

    async def execute(self, sql: str, **params: Any) -> None:
        async with self.apps[0].state.context.database.unit_of_work() as session:
            await session.execute(text(sql), params)

    async def events(self, topic: str) -> list[dict[str, Any]]:
        rows = await self.rows(
            "SELECT payload FROM outbox WHERE topic = :topic ORDER BY id", topic=self.settings.topic(topic)
        )
        return [json.loads(row["payload"])["data"] for row in rows]

    async def operation(self, operation_id: str) -> dict[str, Any]:
        assert self.api is not None
        response = await self.api.get(f"/v1/operations/{operation_id}", headers=OPERATOR)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def until_state(self, operation_id: str, *states: str, timeout_s: float = 60) -> dict[str, Any]:
        return await self.until(lambda: self.operation(operation_id), lambda op: op["state"] in states, timeout_s)

    @staticmethod
    async def until(check: Callable[[], Any], accept: Callable[[Any], bool], timeout_s: float = 60) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            result = await check()
            if accept(result):
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met within {timeout_s}s; last: {result!r}")
            await asyncio.sleep(0.05)


async def make_harness(isolation: Any, tmp_path: Path, scenario: str) -> AsyncIterator[Harness]:
    settings = await isolation.settings("upgrade-runner", "k8sops_upgrade_runner.migrations")
    async with run_sandbox(scenario, kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        speed_up(sandbox)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=False)
        await producer.start()
        harness = Harness(settings, sandbox, producer)
        try:
            yield harness
        finally:
            await harness.stack.aclose()
            await producer.stop()


@pytest.fixture
async def healthy(isolation: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in make_harness(isolation, tmp_path, "healthy-small"):
        yield harness


@pytest.fixture
async def deprecated(isolation: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in make_harness(isolation, tmp_path, "deprecated-apis"):
        yield harness


@pytest.fixture
async def blocking(isolation: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in make_harness(isolation, tmp_path, "blocking-pdb"):
        yield harness


@pytest.fixture
async def addons(isolation: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in make_harness(isolation, tmp_path, "addons"):
        yield harness
