"""A service process as operators see it: Prometheus metrics, and a clean exit on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from k8sops_common.bus.outbox import Outbox
from k8sops_common.events.catalog import ActorV1, AuditEventV1, AuditTargetV1

from .conftest import StartService

Eventually = Callable[..., Awaitable[Any]]


async def test_metrics_count_requests_and_handled_events_and_sigterm_exits_cleanly(
    isolation: Any, start_service: StartService, auditor_headers: dict[str, str], eventually: Eventually
) -> None:
    audit = await start_service("audit")
    envelope = Outbox(await isolation.settings("intake")).envelope(
        AuditEventV1(
            actor=ActorV1(sub="alice"),
            action="request.open",
            target=AuditTargetV1(kind="Request", name="req-1"),
            engagement_id="eng-1",
            outcome="success",
            source_service="intake",
            occurred_at=datetime.now(UTC),
        ),
        event_id=str(uuid.uuid4()),
    )
    producer = AIOKafkaProducer(bootstrap_servers=isolation.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(f"{isolation.topic_prefix}audit.event", envelope.model_dump_json().encode())
    finally:
        await producer.stop()

    async with httpx.AsyncClient(base_url=audit.url, timeout=10) as client:
        assert (await client.get("/v1/audit/entries", headers=auditor_headers)).status_code == 200
        handled = f'k8sops_events_handled_total{{service="audit",topic="{isolation.topic_prefix}audit.event"}} 1.0'
        metrics = await eventually(lambda: client.get("/metrics"), lambda r: handled in r.text)
    text = metrics.text
    assert 'k8sops_http_requests_total{method="GET",route="/v1/audit/entries",service="audit",status="200"} 1.0' in text
    assert "k8sops_http_request_seconds_bucket" in text
    topic = re.escape(f"{isolation.topic_prefix}audit.event")
    assert re.search(rf'k8sops_consumer_lag{{partition="\d+",service="audit",topic="{topic}"}} 0.0', text)

    assert audit.process is not None
    audit.process.send_signal(signal.SIGTERM)
    exit_code = await asyncio.to_thread(audit.process.wait, 15)
    # uvicorn finishes the shutdown, then re-raises the signal so the exit status tells why it ended.
    assert exit_code == -signal.SIGTERM
    log = audit.log_path.read_text()
    assert "Application shutdown complete" in log
