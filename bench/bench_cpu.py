"""CPU per unit of work, measured in-process with `time.process_time`: less at the mercy of other
load on the machine than the throughput benchmarks, and what bounds them on a 2-core machine.

- intake: `POST /v1/requests` through the app over `httpx.ASGITransport` (no network; the client's
  CPU is included), sequentially, with the real database;
- consumer: `EventConsumer.process` on polls of 2,000 `request.opened` records with a set-based
  batch handler (parse, inbox, one INSERT), without a broker in the way;
- audit: the same with audit's own subscriptions (hash chain, COPY, inbox); once more with the
  collector as a service process has it (`freeze_startup_heap`: the startup heap frozen, young
  collections every 50,000 allocations), to show what the garbage collector costs.

Each figure also reads as a ceiling: units per CPU-second is the most one fully busy core could do
for this process alone (PostgreSQL's own CPU comes on top).

    .venv/bin/python bench/bench_cpu.py [--requests 400] [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiokafka import ConsumerRecord
from bench_audit import audit_messages
from bench_bus import Message, insert_all_handled, migrated_database, section_settings, wire_messages
from sqlalchemy import text
from support import Infrastructure, load_average, report_measurement

from k8sops_audit.handlers import subscriptions as audit_subscriptions
from k8sops_common.auth import mint_token
from k8sops_common.bus import EventConsumer, Outbox, OutboxRelay, Subscriptions
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import RequestOpenedV1
from k8sops_common.migrations import migrate
from k8sops_common.service import ServiceContext, create_app, freeze_startup_heap
from k8sops_common.settings import DEV_JWT_SECRET, ServiceSettings
from k8sops_common.telemetry import setup_tracing
from k8sops_intake.app import DEFINITION as INTAKE

POLL = 2_000
# Not sampled, as the services write it when no OTLP endpoint is set (`--sampled` for the other case).
TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
SAMPLED_TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def cpu_seconds(work: Callable[[], Awaitable[None]]) -> float:
    started = time.process_time()
    await work()
    return time.process_time() - started


async def intake_cpu(infra: Infrastructure, requests: int) -> dict[str, float]:
    settings = ServiceSettings(
        service_name="intake",
        database_url=infra.database_url,
        db_schema=f"bench_cpu_{uuid.uuid4().hex[:8]}",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        log_level="WARNING",
    )
    await asyncio.to_thread(migrate, "k8sops_intake.migrations", settings.database_url, settings.schema_name)
    app = create_app(INTAKE, settings)

    def bearer(role: str) -> dict[str, str]:
        token = mint_token(DEV_JWT_SECRET, sub="bench", roles=[role], engagements=["eng-cpu"])
        return {"Authorization": f"Bearer {token}"}

    requester = bearer("k8s-ops.requester")
    body = {"engagement_id": "eng-cpu", "category": "incident", "priority": "P2", "title": "cpu"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://intake") as client:
        engagement = {"id": "eng-cpu", "name": "cpu", "tier": "k8s-247", "timezone": "Asia/Dhaka"}
        (await client.post("/v1/engagements", json=engagement, headers=bearer("k8s-ops.senior"))).raise_for_status()

        async def open_requests(count: int) -> None:
            for _ in range(count):
                (await client.post("/v1/requests", json=body, headers=requester)).raise_for_status()

        await open_requests(100)  # warm-up: statement caches, pools
        seconds = await cpu_seconds(lambda: open_requests(requests))
    await app.state.context.database.dispose()
    return {"intake_cpu_ms_per_request": round(1000 * seconds / requests, 3)}


def records(topic: str, messages: list[Message], traceparent: bytes) -> list[ConsumerRecord[bytes, bytes]]:
    headers = [("traceparent", traceparent)]
    return [
        ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, len(key), len(value), headers)
        for offset, (key, value) in enumerate(messages)
    ]


async def process_all(consumer: EventConsumer, polls: list[ConsumerRecord[bytes, bytes]]) -> None:
    for start in range(0, len(polls), POLL):
        await consumer.process(polls[start : start + POLL])


async def consumer_cpu(infra: Infrastructure, events: int, traceparent: bytes) -> dict[str, float]:
    setup_tracing("bench-cpu", None)  # as the services run without an OTLP endpoint, whatever ran before
    settings = section_settings(infra, uuid.uuid4().hex[:8], "cpu", POLL)
    database = await migrated_database(settings)
    async with database.unit_of_work() as session:
        await session.execute(text("CREATE TABLE bench_handled (event_id text PRIMARY KEY, request_id text)"))
    consumer = EventConsumer(settings, database, Subscriptions().on_batch(RequestOpenedV1, insert_all_handled))
    polls = records(settings.topic("request.opened"), wire_messages(events + POLL), traceparent)
    await consumer.process(polls[:POLL])  # warm-up
    seconds = await cpu_seconds(lambda: process_all(consumer, polls[POLL:]))
    await database.dispose()
    return {
        "consumer_set_based_cpu_us_per_event": round(1e6 * seconds / events, 1),
        "consumer_set_based_events_per_cpu_s": round(events / seconds),
    }


async def audit_cpu(infra: Infrastructure, events: int, traceparent: bytes) -> dict[str, float]:
    settings = ServiceSettings(
        service_name="audit",
        database_url=infra.database_url,
        db_schema=f"bench_cpu_{uuid.uuid4().hex[:8]}_audit",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
    )
    await asyncio.to_thread(migrate, "k8sops_audit.migrations", settings.database_url, settings.schema_name)
    database = Database(engine_from_settings(settings))
    context = ServiceContext(settings, database, Outbox(settings), OutboxRelay(settings, database))
    consumer = EventConsumer(settings, database, audit_subscriptions(context))
    topic = settings.topic("audit.event")
    polls = records(topic, audit_messages(events + POLL), traceparent)
    await consumer.process(polls[:POLL])
    seconds = await cpu_seconds(lambda: process_all(consumer, polls[POLL:]))
    # Fresh events again, with the collector as a service process has it (`freeze_startup_heap`):
    # every object alive now (imports, app, this bench's records) out of its sight, and the young
    # generation collected every 50,000 allocations; the difference is what the collector costs.
    polls = records(topic, audit_messages(events), traceparent)
    thresholds = gc.get_threshold()
    freeze_startup_heap()
    try:
        frozen_seconds = await cpu_seconds(lambda: process_all(consumer, polls))
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    await database.dispose()
    return {
        "audit_ingest_cpu_us_per_event": round(1e6 * seconds / events, 1),
        "audit_ingest_events_per_cpu_s": round(events / seconds),
        "audit_ingest_cpu_us_per_event_heap_frozen": round(1e6 * frozen_seconds / events, 1),
    }


async def measure(infra: Infrastructure, args: argparse.Namespace) -> dict[str, Any]:
    load_before = load_average()
    figures = await intake_cpu(infra, args.requests)
    traceparent = SAMPLED_TRACEPARENT if args.sampled else TRACEPARENT
    figures |= await consumer_cpu(infra, args.events, traceparent)
    figures |= await audit_cpu(infra, args.events, traceparent)
    return {
        "requests": args.requests,
        "events": args.events,
        "events_sampled_by_their_producer": args.sampled,
        "embedded": infra.embedded,
        "load_avg_1m_before": load_before,
        "load_avg_1m_after": load_average(),
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="intake requests to time (default 400)")
    parser.add_argument("--events", type=int, default=20_000, help="events per consumer section (default 20000)")
    parser.add_argument("--sampled", action="store_true", help="events carry a sampled traceparent (spans recorded)")
    args = parser.parse_args()

    report_measurement(measure, args)


if __name__ == "__main__":
    main()
