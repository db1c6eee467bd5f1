"""Intake in-process against the real PostgreSQL and broker of the session, in a schema of its own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from k8sops_common.auth import mint_token
from k8sops_common.service import create_app
from k8sops_common.settings import DEV_JWT_SECRET
from k8sops_intake.app import DEFINITION
from k8sops_intake.incidents.settings import IncidentSettings
from k8sops_intake.settings import WebhookSettings
from k8sops_platform.embedded import free_port
from tests.conftest import DAY_S

OWN = "eng-own"
OTHER = "eng-other"


# The incident job loop polls often, so a report or a held-back page that comes due runs at once.
FAST_JOBS: dict[str, Any] = {"incident_jobs_poll_s": 0.05}


def token(roles: list[str], engagements: list[str], sub: str = "someone@example.com") -> dict[str, str]:
    token = mint_token(DEV_JWT_SECRET, sub=sub, roles=roles, engagements=engagements, ttl_s=DAY_S)
    return {"Authorization": f"Bearer {token}"}


SENIOR = token(["k8s-ops.senior"], [OWN, OTHER], sub="senior@provider.example")
OPERATOR = token(["k8s-ops.operator"], [OWN], sub="operator@provider.example")
ADMIN = token(["k8s-ops.admin"], [OWN], sub="admin@customer.example")
REQUESTER = token(["k8s-ops.requester"], [OWN], sub="requester@customer.example")
VIEWER = token(["k8s-ops.viewer"], [OWN], sub="viewer@customer.example")
OTHER_ADMIN = token(["k8s-ops.admin"], [OTHER], sub="admin@other.example")


def engagement_body(engagement_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "id": engagement_id,
        "name": f"{engagement_id} contract",
        "tier": "k8s-247",
        "timezone": "Asia/Dhaka",
        "working_days": [6, 0, 1, 2, 3],
        "holiday_country": "BD",
        "extra_holidays": ["2025-12-31"],
        "maintenance_window": {"weekday": 5, "start_local": "02:00", "duration_minutes": 240},
        "on_call": "oncall@customer.example",
        **overrides,
    }


def cluster_body(cluster_id: str, environment: str = "prod", **overrides: Any) -> dict[str, Any]:
    return {
        "id": cluster_id,
        "name": cluster_id,
        "environment": environment,
        "api_endpoint": f"https://{cluster_id}.k8s.example:6443",
        "credentials_ref": f"vault://k8s/{cluster_id}/admin",
        "size_band": "M",
        "workload_band": "50-200",
        "monthly_retainer_bdt": "250000.00",
        **overrides,
    }


@dataclass
class Intake:
    app: FastAPI
    client: httpx.AsyncClient
    schema: str
    isolation: Any

    async def rows(self, table: str, where: str = "TRUE", *args: object) -> list[dict[str, Any]]:
        records = await self.isolation.fetch(f"SELECT * FROM {self.schema}.{table} WHERE {where}", *args)
        return [dict(record) for record in records]

    async def count(self, table: str) -> int:
        return len(await self.rows(table))

    async def events(self, topic_suffix: str) -> list[dict[str, Any]]:
        rows = await self.isolation.fetch(
            f"SELECT payload FROM {self.schema}.outbox WHERE topic = $1 ORDER BY id",
            f"{self.isolation.topic_prefix}{topic_suffix}",
        )
        return [json.loads(row["payload"]) for row in rows]

    async def setup_engagement(self, engagement_id: str = OWN, with_clusters: bool = True) -> None:
        response = await self.client.post("/v1/engagements", json=engagement_body(engagement_id), headers=SENIOR)
        assert response.status_code == 201, response.text
        if with_clusters:
            admin = ADMIN if engagement_id == OWN else OTHER_ADMIN
            for body in (
                cluster_body(f"{engagement_id}-staging", "non-prod"),
                cluster_body(f"{engagement_id}-prod", paired_cluster_id=f"{engagement_id}-staging"),
            ):
                response = await self.client.post(f"/v1/engagements/{engagement_id}/clusters", json=body, headers=admin)
                assert response.status_code == 201, response.text

    async def open_request(self, headers: dict[str, str] = REQUESTER, **overrides: Any) -> dict[str, Any]:
        body = {
            "engagement_id": OWN,
            "cluster_id": f"{OWN}-prod",
            "category": "workload-issue",
            "priority": "P2",
            "title": "payments-api CrashLoopBackOff",
            **overrides,
        }
        response = await self.client.post("/v1/requests", json=body, headers=headers)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


async def build_intake(isolation: Any, webhook_settings: WebhookSettings | None = None) -> Intake:
    settings = await isolation.settings("intake", "k8sops_intake.migrations")
    app = create_app(DEFINITION, settings)
    app.state.context.extras["webhook_settings"] = webhook_settings or WebhookSettings(allow_private_targets=True)
    # No audit service here (port 9 refuses): timelines show their audit_unavailable marker.
    app.state.context.extras["incident_settings"] = IncidentSettings(audit_url="http://127.0.0.1:9", **FAST_JOBS)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake.test")
    return Intake(app, client, settings.schema_name, isolation)


@pytest.fixture
async def intake(isolation: Any) -> AsyncIterator[Intake]:
    """The API without background tasks: what a request changes is in the tables and the outbox."""
    service = await build_intake(isolation)
    try:
        yield service
    finally:
        await service.client.aclose()
        await service.app.state.context.database.dispose()


async def read_body(receive: Any) -> bytes:
    """The whole request body an ASGI receiver was sent."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Serves an ASGI app (a webhook receiver, or a whole service with lifespan="on") on a free
    loopback port; returns its base URL."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(app: Any, lifespan: Literal["on", "off"] = "off") -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan=lifespan))
        task = asyncio.create_task(server.serve())
        for _ in range(1000):  # up to 10 s to start
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        servers.append((server, task))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, task in reversed(servers):
        server.should_exit = True
        await task


@pytest.fixture
async def running_intake(isolation: Any) -> AsyncIterator[Callable[..., Awaitable[Intake]]]:
    """Intake with its lifespan (outbox relay, consumer, delivery loop) and the engagement set up."""
    started: list[tuple[Intake, Any]] = []

    async def start(settings: WebhookSettings, audit_url: str | None = None) -> Intake:
        intake = await build_intake(isolation, settings)
        if audit_url is not None:
            intake.app.state.context.extras["incident_settings"] = IncidentSettings(audit_url=audit_url, **FAST_JOBS)
        lifespan = intake.app.router.lifespan_context(intake.app)
        await lifespan.__aenter__()
        started.append((intake, lifespan))
        await intake.setup_engagement()
        return intake

    yield start
    for intake, lifespan in started:
        await lifespan.__aexit__(None, None, None)
        await intake.client.aclose()
