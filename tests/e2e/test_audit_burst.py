"""Kill -9 the audit service in the middle of a 50,000-event burst: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from k8sops_common.bus.outbox import Outbox
from k8sops_common.events.catalog import ActorV1, AuditEventV1, AuditTargetV1

from .conftest import StartService

Eventually = Callable[..., Awaitable[Any]]
BURST = 50_000


def audit_event(number: int) -> AuditEventV1:
    return AuditEventV1(
        actor=ActorV1(sub="oncall@provider.example", roles=["k8s-ops.operator"]),
        action="pod.delete",
        target=AuditTargetV1(kind="Pod", name=f"web-{number}", namespace="shop", cluster="prod-1"),
        engagement_id=f"eng-{number % 7}",
        outcome="success",
        authorization_ref=f"auth-{number}",
        source_service="upgrade-runner",
        occurred_at=datetime.now(UTC),
        details={"number": number},
    )


async def stored(isolation: Any) -> tuple[int, int]:
    table = f"{isolation.schema_for('audit')}.audit_entries"
    rows = await isolation.fetch(f"SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_ids FROM {table}")
    return int(rows[0]["n"]), int(rows[0]["distinct_ids"])


async def test_kill_during_a_burst_stores_every_event_exactly_once_and_the_chain_verifies(
    isolation: Any, start_service: StartService, auditor_headers: dict[str, str], tmp_path: Path, eventually: Eventually
) -> None:
    settings = await isolation.settings("upgrade-runner")
    outbox = Outbox(settings)
    event_ids: set[str] = set()
    producer = AIOKafkaProducer(bootstrap_servers=isolation.bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        sends = []
        for number in range(BURST):
            envelope = outbox.envelope(audit_event(number), event_id=str(uuid.uuid4()))
            assert envelope.subject is not None
            event_ids.add(envelope.id)
            sends.append(
                await producer.send(
                    f"{isolation.topic_prefix}audit.event",
                    envelope.model_dump_json().encode(),
                    key=envelope.subject.encode(),
                )
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()

    audit = await start_service(
        "audit",
        env={
            "K8SOPS_AUDIT_CHECKPOINT_INTERVAL_S": "1",
            "K8SOPS_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit-key.pem"),
        },
    )
    await eventually(lambda: stored(isolation), lambda s: s[0] >= 5_000, timeout_s=120)
    audit.kill()
    killed_at = (await stored(isolation))[0]
    audit.start()
    audit.wait_ready(60)
    await eventually(lambda: stored(isolation), lambda s: s[0] >= BURST, timeout_s=300)
    assert killed_at < BURST, "the kill came after the burst was stored: it proves nothing"
    await asyncio.sleep(2)
    assert await stored(isolation) == (BURST, BURST)
    stored_ids = await isolation.fetch(f"SELECT event_id FROM {isolation.schema_for('audit')}.audit_entries")
    assert {row["event_id"] for row in stored_ids} == event_ids

    async with httpx.AsyncClient(base_url=audit.url, headers=auditor_headers, timeout=60) as client:
        checkpoints = (await client.get("/v1/audit/checkpoints")).json()
        await eventually(
            lambda: client.get("/v1/audit/checkpoints"), lambda r: r.json() and r.json()[-1]["head_sequence"] == BURST
        )
        report = (await client.get("/v1/audit/verify")).json()
    assert report["ok"] is True, report
    assert report["entries_verified"] == BURST and report["head_sequence"] == BURST
    assert report["checkpoints_checked"] >= 1
    assert checkpoints, "checkpoints were signed while the burst was ingested"
