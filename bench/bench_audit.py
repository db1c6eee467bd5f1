"""Audit ingest (hash chain + batching + inbox) next to the raw consume rate of the same broker.

With N real `audit.event` CloudEvents on a topic:
- raw consume: an aiokafka consumer (no group) reads the N events from the beginning;
- ingest: the audit service's own consumer and handler (`EventConsumer` + the audit subscriptions)
  store, hash-chain and inbox the N events, timed from partition assignment until all N are handled;
  the chain is then verified end to end (and the verification timed).
The events carry what the outbox relay sends with every event when no OTLP endpoint is set (an
unsampled `traceparent`), and tracing is set up as the service sets it up; `--no-traceparent`
produces them bare, as this bench did up to stop 10 (each then gets a span of its own).
Goal of issue 13: at least 25,000 events/s ingest with the hash chain (an earlier issue asked 10,000).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench_bus import counter_value, measure_raw_consume, produce
from bench_intake import postmaster_pid
from intake_floors import TreeCpu
from support import (
    Infrastructure,
    Stopwatch,
    load_average,
    per_second,
    progress,
    report_measurement,
    wait_until,
)

from k8sops_audit.handlers import subscriptions
from k8sops_audit.service import verify
from k8sops_common.bus import EventConsumer, Outbox, OutboxRelay
from k8sops_common.bus.admin import ensure_topics
from k8sops_common.bus.consumer import HANDLED
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import ActorV1, AuditEventV1, AuditTargetV1
from k8sops_common.migrations import migrate
from k8sops_common.service import ServiceContext, freeze_startup_heap
from k8sops_common.settings import ServiceSettings
from k8sops_common.telemetry import setup_tracing


def audit_messages(events: int) -> list[tuple[bytes, bytes]]:
    outbox = Outbox(ServiceSettings(service_name="upgrade-runner"))
    messages = []
    for number in range(events):
        data = AuditEventV1(
            actor=ActorV1(sub="oncall@provider.example", roles=["k8s-ops.operator"]),
            action="pod.evict",
            target=AuditTargetV1(kind="Pod", name=f"web-{number}", namespace="shop", cluster="prod-1"),
            engagement_id=f"eng-{number % 20}",
            outcome="success",
            trace_id=uuid.uuid4().hex,
            source_service="upgrade-runner",
            occurred_at=datetime.now(UTC),
            details={"node": f"node-{number % 50}", "attempt": 1},
        )
        envelope = outbox.envelope(data)
        messages.append((str(envelope.subject).encode(), envelope.model_dump_json().encode()))
    return messages


async def measure(infra: Infrastructure, args: argparse.Namespace) -> dict[str, Any]:
    token = uuid.uuid4().hex[:8]
    settings = ServiceSettings(
        service_name="audit",
        database_url=infra.database_url,
        db_schema=f"bench_{token}_audit",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        topic_prefix=f"bench.{token}.",
    )
    topic = settings.topic("audit.event")
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], partitions=args.partitions)
    messages = audit_messages(args.events)
    progress(f"producing {args.events} audit events")
    await produce(infra.kafka_bootstrap_servers, topic, messages, traced=not args.no_traceparent)
    load_before = load_average()
    raw = await measure_raw_consume(infra.kafka_bootstrap_servers, topic, args.events)

    await asyncio.to_thread(migrate, "k8sops_audit.migrations", settings.database_url, settings.schema_name)
    setup_tracing(settings.service_name, None)
    database = Database(engine_from_settings(settings))
    # The service's own wiring: the handler shares the context's tail guard, as in `serve`.
    context = ServiceContext(settings, database, Outbox(settings), OutboxRelay(settings, database))
    consumer = EventConsumer(settings, database, subscriptions(context))
    labels = {"service": settings.service_name, "topic": topic}
    already = counter_value(HANDLED, **labels)

    postgres = await postmaster_pid(settings.database_url)
    # CPU seconds of this process and of PostgreSQL between assignment and the last event handled:
    # what the wall time is beyond them was spent waiting, or waiting for a core on a busy machine.
    cpu: dict[str, Any] = {}

    async def assigned() -> bool:
        kafka = consumer._consumer
        if kafka is None or not kafka.assignment():
            return False
        cpu.update(consumer=time.process_time(), system=os.times().system, postgres=TreeCpu(postgres))
        return True

    async def all_handled() -> bool:
        if counter_value(HANDLED, **labels) - already < args.events:
            return False
        cpu.update(
            consumer=time.process_time() - cpu["consumer"],
            system=os.times().system - cpu["system"],
            postgres=cpu["postgres"].spent(),
        )
        return True

    # As a service process does once it has started (`freeze_startup_heap`): what is alive now,
    # here including the prepared messages, is out of the garbage collector's full passes.
    freeze_startup_heap()
    progress("ingesting")
    task = asyncio.create_task(consumer.run())
    try:
        assigned_at = await wait_until(assigned, interval_s=0.005)
        done_at = await wait_until(all_handled, interval_s=0.005)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 10)
    clock = Stopwatch()
    async with database.sessions() as session:
        verification = await verify(session)
    verify_s = clock.elapsed()
    await database.dispose()
    if not verification.result.ok or verification.result.entries_verified != args.events:
        raise AssertionError(f"chain does not verify: {verification.result}")
    ingest_s = done_at - assigned_at
    ingest_rate = per_second(args.events, ingest_s)
    return {
        "events": args.events,
        "partitions": args.partitions,
        "traceparent": not args.no_traceparent,
        "payload_bytes_avg": round(sum(len(value) for _, value in messages) / len(messages), 1),
        "embedded": infra.embedded,
        "load_avg_1m_before": load_before,
        "load_avg_1m_after": load_average(),
        **raw,
        "ingest_events_per_s": ingest_rate,
        "ingest_s": round(ingest_s, 4),
        "ingest_consumer_cpu_us_per_event": round(cpu["consumer"] / args.events * 1e6, 1),
        # Of the consumer's CPU, the kernel's part (socket reads and writes, the poller).
        "ingest_consumer_system_cpu_us_per_event": round(cpu["system"] / args.events * 1e6, 1),
        "ingest_postgres_cpu_us_per_event": round(cpu["postgres"] / args.events * 1e6, 1),
        "ingest_vs_raw_consume": round(ingest_rate / raw["raw_consume_events_per_s"], 4),
        "verify_entries_per_s": per_second(args.events, verify_s),
        "ingest_meets_10k_per_s": ingest_rate >= 10_000,
        "ingest_meets_25k_per_s": ingest_rate >= 25_000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000, help="audit events (default 50000)")
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the topic (default 3)")
    parser.add_argument("--no-traceparent", action="store_true", help="events without the relay's traceparent")
    args = parser.parse_args()

    report_measurement(measure, args)


if __name__ == "__main__":
    main()
