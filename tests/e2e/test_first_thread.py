"""One request travels for real: intake → outbox → Kafka → audit, in one trace, exactly once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from k8sops_platform.embedded import TansuBroker, free_port

Eventually = Callable[..., Awaitable[object]]


def new_request(title: str) -> dict[str, str]:
    return {
        "engagement_id": "eng-e2e",
        "cluster_id": "prod-1",
        "category": "incident",
        "priority": "P1",
        "title": title,
    }


async def audit_entries(isolation) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    table = f"{isolation.schema_for('audit')}.audit_entries"
    rows = await isolation.fetch(f"SELECT event_id, target_name, trace_id, action FROM {table} ORDER BY seq")
    return [dict(row) for row in rows]


async def test_a_request_reaches_audit_in_the_same_trace(
    isolation, start_service, requester_headers, auditor_headers, eventually: Eventually
) -> None:  # type: ignore[no-untyped-def]
    intake = await start_service("intake")
    audit = await start_service("audit")
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"

    async with httpx.AsyncClient(timeout=10) as client:
        created = await client.post(
            f"{intake.url}/v1/requests",
            json=new_request("etcd latency"),
            headers={**requester_headers, "traceparent": traceparent},
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

        items = await eventually(entries_for_trace, lambda items: len(items) == 1)
    assert items[0]["target_name"] == request_id  # type: ignore[index]
    assert items[0]["action"] == "request.open"  # type: ignore[index]
    assert items[0]["trace_id"] == trace_id  # type: ignore[index]


async def test_killing_audit_mid_stream_loses_nothing_and_duplicates_nothing(
    isolation, start_service, requester_headers, eventually: Eventually
) -> None:  # type: ignore[no-untyped-def]
    intake = await start_service("intake")
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
        rows = await eventually(lambda: audit_entries(isolation), lambda rows: len(rows) >= total, timeout_s=60)

    assert opened_before_kill < total, "the kill came after the stream ended: it proves nothing"
    await asyncio.sleep(2)  # anything redelivered after the restart would land by now
    rows = await audit_entries(isolation)
    assert len(rows) == total
    assert sorted(row["target_name"] for row in rows) == sorted(request_ids)  # type: ignore[type-var]


async def test_a_malformed_message_is_dead_lettered_and_audit_keeps_going(
    isolation, start_service, requester_headers, eventually: Eventually
) -> None:  # type: ignore[no-untyped-def]
    intake = await start_service("intake")
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
    isolation, start_service, requester_headers, tmp_path, eventually: Eventually
) -> None:  # type: ignore[no-untyped-def]
    # A broker of this test's own: stopping the shared one would disturb nothing else, but be explicit.
    broker = TansuBroker(port=free_port(), log_path=tmp_path / "tansu.log")
    bootstrap = broker.start()
    try:
        isolation.bootstrap = bootstrap
        await isolation.ensure_topics()
        intake = await start_service("intake", bootstrap=bootstrap)
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
                await eventually(lambda s=service: client.get(f"{s.url}/readyz"), lambda r: r.status_code == 200)
            await eventually(lambda: isolation.fetch(unsent_query), lambda rows: rows[0]["n"] == 0, timeout_s=60)
            rows = await eventually(lambda: audit_entries(isolation), lambda rows: len(rows) == 15, timeout_s=60)
        assert sorted(row["target_name"] for row in rows) == sorted(set(row["target_name"] for row in rows))  # type: ignore[type-var]
    finally:
        broker.stop()
