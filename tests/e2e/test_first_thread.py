"""One request travels for real: intake → outbox → Kafka → audit, in one trace, exactly once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from k8sops_platform.embedded import TansuBroker

from .conftest import StartService, bearer, caught_up, steadily

Eventually = Callable[..., Awaitable[Any]]


def new_request(title: str) -> dict[str, str]:
    return {
        "engagement_id": "eng-e2e",
        "cluster_id": "prod-1",
        "category": "incident",
        "priority": "P1",
        "title": title,
    }


async def set_up_engagement(intake_url: str) -> None:
    """Requests need their engagement and cluster to exist: a senior takes it on, its admin adds the cluster."""
    senior = bearer(["k8s-ops.senior"], ["eng-e2e"], sub="senior@provider.example")
    admin = bearer(["k8s-ops.admin"], ["eng-e2e"], sub="admin@customer.example")
    async with httpx.AsyncClient(base_url=intake_url, timeout=10) as client:
        engagement = {"id": "eng-e2e", "name": "e2e", "tier": "k8s-247", "timezone": "Asia/Dhaka"}
        response = await client.post("/v1/engagements", json=engagement, headers=senior)
        assert response.status_code == 201, response.text
        cluster = {
            "id": "prod-1",
            "name": "prod-1",
            "environment": "prod",
            "api_endpoint": "https://prod-1.k8s.example:6443",
            "credentials_ref": "vault://k8s/prod-1",
            "size_band": "M",
            "workload_band": "50-200",
            "monthly_retainer_bdt": "100000.00",
        }
        response = await client.post("/v1/engagements/eng-e2e/clusters", json=cluster, headers=admin)
        assert response.status_code == 201, response.text


async def audit_entries(isolation: Any) -> list[dict[str, object]]:
    """The entries of opened requests (setting up the engagement is audited too)."""
    table = f"{isolation.schema_for('audit')}.audit_entries"
    rows = await isolation.fetch(
        f"SELECT event_id, target_name, trace_id, action FROM {table} WHERE action = 'request.open' ORDER BY seq"
    )
    return [dict(row) for row in rows]


async def count_entries(isolation: Any) -> int:
    return len(await audit_entries(isolation))


async def test_a_request_is_one_trace_through_intake_sla_timer_and_audit(
    isolation: Any,
    start_service: StartService,
    requester_headers: dict[str, str],
    auditor_headers: dict[str, str],
    eventually: Eventually,
) -> None:
    intake = await start_service("intake")
    await start_service("sla-timer")
    audit = await start_service("audit")
    await set_up_engagement(intake.url)
    # A request that reaches sla-timer before its engagement waits and is armed when the engagement
    # arrives, in the engagement's trace; this test is about the usual order.
    engagements = f"SELECT count(*) AS n FROM {isolation.schema_for('sla-timer')}.engagements"
    await eventually(lambda: isolation.fetch(engagements), lambda rows: rows[0]["n"] == 1)
    trace_id = secrets.token_hex(16)
    caller = SpanContext(int(trace_id, 16), int(secrets.token_hex(8), 16), is_remote=True, trace_flags=TraceFlags(1))

    async with httpx.AsyncClient(timeout=10) as client:
        # The caller's trace goes in the header; were httpx instrumented in this process (another
        # test built an app in-process), its client span would carry the same trace as our parent.
        with trace.use_span(NonRecordingSpan(caller)):
            created = await client.post(
                f"{intake.url}/v1/requests",
                json=new_request("etcd latency"),
                headers={**requester_headers, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
            )
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]

        async def entries_for_trace() -> list[dict[str, object]]:
            response = await client.get(
                f"{audit.url}/v1/audit/entries", params={"trace_id": trace_id}, headers=auditor_headers
            )
            assert response.status_code == 200, response.text
            items: list[dict[str, object]] = response.json()["items"]
            return items

        # intake records the request; sla-timer, handling request.opened in the same trace, arms its timer.
        items = await eventually(entries_for_trace, lambda items: len(items) == 2, timeout_s=120)
    assert {(item["source_service"], item["action"]) for item in items} == {
        ("intake", "request.open"),
        ("sla-timer", "sla.timer.arm"),
    }
    assert {item["target_name"] for item in items} == {request_id}
    assert {item["trace_id"] for item in items} == {trace_id}


async def test_killing_audit_mid_stream_loses_nothing_and_duplicates_nothing(
    isolation: Any, start_service: StartService, requester_headers: dict[str, str], eventually: Eventually
) -> None:
    intake = await start_service("intake")
    await set_up_engagement(intake.url)
    audit = await start_service("audit")
    total = 1000
    request_ids: list[str] = []

    async with httpx.AsyncClient(timeout=10, headers=requester_headers) as client:

        async def open_requests() -> None:
            for number in range(total):
                response = await client.post(f"{intake.url}/v1/requests", json=new_request(f"burst {number}"))
                assert response.status_code == 201, response.text
                request_ids.append(response.json()["id"])

        producer = asyncio.create_task(open_requests())
        # Kill the consumer while events are still arriving, after it has stored some of them.
        await eventually(lambda: audit_entries(isolation), lambda rows: len(rows) >= 20)
        audit.kill()
        opened_before_kill = len(request_ids)
        await producer
        audit.start()
        audit.wait_ready(60)
        await steadily(lambda: count_entries(isolation), lambda n: n >= total)

    assert opened_before_kill < total, "the kill came after the stream ended: it proves nothing"
    # Anything redelivered after the restart has landed once the consumer reports no lag.
    await steadily(lambda: caught_up(audit.url, f"{isolation.topic_prefix}audit.event"), bool)
    rows = await audit_entries(isolation)
    assert len(rows) == total
    assert sorted(row["target_name"] for row in rows) == sorted(request_ids)  # type: ignore[type-var]


async def test_a_malformed_message_is_dead_lettered_and_audit_keeps_going(
    isolation: Any, start_service: StartService, requester_headers: dict[str, str], eventually: Eventually
) -> None:
    intake = await start_service("intake")
    await set_up_engagement(intake.url)
    await start_service("audit")
    topic = f"{isolation.topic_prefix}audit.event"
    producer = AIOKafkaProducer(bootstrap_servers=isolation.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"specversion": "1.0", "type": "k8sops.audit.event.v1"}', key=b"eng-e2e")
    finally:
        await producer.stop()
    async with httpx.AsyncClient(timeout=10, headers=requester_headers) as client:
        response = await client.post(f"{intake.url}/v1/requests", json=new_request("after the garbage"))
        assert response.status_code == 201
    await eventually(lambda: audit_entries(isolation), lambda rows: len(rows) == 1)

    dlq = AIOKafkaConsumer(f"{topic}.dlq", bootstrap_servers=isolation.bootstrap, auto_offset_reset="earliest")
    await dlq.start()
    try:
        batch = await dlq.getmany(timeout_ms=10_000)
    finally:
        await dlq.stop()
    records = [record for records in batch.values() for record in records]
    assert len(records) == 1
    headers = dict(records[0].headers)
    assert b"not a CloudEvents 1.0 JSON envelope" in headers["dlq-error"]


async def test_broker_outage_turns_readyz_503_and_the_outbox_drains_after(
    isolation: Any,
    start_service: StartService,
    requester_headers: dict[str, str],
    own_broker: TansuBroker,
    eventually: Eventually,
) -> None:
    # A broker of this test's own: stopping the shared one would disturb nothing else, but be explicit.
    broker, bootstrap = own_broker, isolation.bootstrap
    intake = await start_service("intake", bootstrap=bootstrap)
    await set_up_engagement(intake.url)
    audit = await start_service("audit", bootstrap=bootstrap)
    async with httpx.AsyncClient(timeout=10, headers=requester_headers) as client:
        for number in range(5):
            response = await client.post(f"{intake.url}/v1/requests", json=new_request(f"before {number}"))
            assert response.status_code == 201, response.text
        await eventually(lambda: audit_entries(isolation), lambda rows: len(rows) == 5)

        broker.stop()
        for service in (intake, audit):
            ready = await client.get(f"{service.url}/readyz")
            assert ready.status_code == 503, ready.text
            assert ready.headers["content-type"] == "application/problem+json"
            assert "broker" in ready.json()["detail"]
        for number in range(10):
            response = await client.post(f"{intake.url}/v1/requests", json=new_request(f"during {number}"))
            assert response.status_code == 201, response.text
        unsent_query = f"SELECT count(*) AS n FROM {isolation.schema_for('intake')}.outbox WHERE sent_at IS NULL"
        unsent = await isolation.fetch(unsent_query)
        assert unsent[0]["n"] == 20  # ten requests, each a request.opened and an audit.event

        broker.start()  # memory storage: the restarted broker starts empty
        for service in (intake, audit):
            await eventually(
                lambda s=service: client.get(f"{s.url}/readyz"), lambda r: r.status_code == 200, timeout_s=120
            )
        await steadily(lambda: isolation.fetch(unsent_query), lambda rows: rows[0]["n"] == 0)
        await steadily(lambda: count_entries(isolation), lambda n: n >= 15)
        rows = await audit_entries(isolation)
    assert len(rows) == 15
    assert sorted(row["target_name"] for row in rows) == sorted(set(row["target_name"] for row in rows))  # type: ignore[type-var]
