"""Audit ingest (hash chain + batching + inbox) next to the raw consume rate of the same broker.

With N real `audit.event` CloudEvents on a topic:
- raw consume: an aiokafka consumer (no group) reads the N events from the beginning;
- ingest: `--replicas` processes (`audit_replica.py`; default the cores, as `K8SOPS_HTTP_WORKERS`),
  each the audit service's own consumer and handler (`EventConsumer` + the audit subscriptions) as
  one member of audit's consumer group, store, hash-chain and inbox the N events, timed from the
  first partition assignment until the last event is handled; the chain is then verified end to
  end (and the verification timed). `--replicas 1` is the one process audit ran up to stop 11.
The events carry what the outbox relay sends with every event when no OTLP endpoint is set (an
unsampled `traceparent`), and tracing is set up as the service sets it up; `--no-traceparent`
produces them bare, as this bench did up to stop 10 (each then gets a span of its own).
Goal of issue 13: at least 25,000 events/s ingest with the hash chain (an earlier issue asked 10,000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from bench_bus import measure_raw_consume, produce
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

from k8sops_audit.service import verify
from k8sops_common.bus import Outbox
from k8sops_common.bus.admin import ensure_topics, partitions_of
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.events.catalog import ActorV1, AuditEventV1, AuditTargetV1
from k8sops_common.migrations import migrate
from k8sops_common.settings import ServiceSettings, usable_cores

REPLICA = Path(__file__).with_name("audit_replica.py")


def audit_messages(events: int) -> list[tuple[bytes, bytes]]:
    outbox = Outbox(ServiceSettings(service_name="upgrade-runner"))
    messages = []
    for number in range(events):
        data = AuditEventV1(
            actor=ActorV1(sub="oncall@provider.example", roles=["k8s-ops.operator"]),
            action="pod.evict",
            target=AuditTargetV1(kind="Pod", name=f"web-{number}", namespace="shop", cluster="prod-1"),
            # As many engagements (the partition key) as a provider may serve: three partitions get
            # 31 %, 34 % and 36 % of the events (with 20, as up to stop 11, 50 %, 25 %, 25 %).
            engagement_id=f"eng-{number % 1000}",
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

    progress(f"ingesting with {args.replicas} consumer process(es)")
    replicas, postgres_cpu, broker_cpu = await ingest_in_replicas(settings, args)
    started = min(replica["started"]["at"] for replica in replicas)
    ingest_s = max(replica["last_handled"]["at"] for replica in replicas) - started
    ingest_rate = per_second(args.events, ingest_s)
    # CPU of each process between the start and the last event it handled.
    cpu = [replica["last_handled"]["cpu"] - replica["started"]["cpu"] for replica in replicas]
    system = [replica["last_handled"]["system"] - replica["started"]["system"] for replica in replicas]
    all_cpu = sum(cpu) + postgres_cpu + (broker_cpu or 0.0)

    database = Database(engine_from_settings(settings))
    clock = Stopwatch()
    async with database.sessions() as session:
        verification = await verify(session)
    verify_s = clock.elapsed()
    await database.dispose()
    if not verification.result.ok or verification.result.entries_verified != args.events:
        raise AssertionError(f"chain does not verify: {verification.result}")
    return {
        "events": args.events,
        "partitions": args.partitions,
        "replicas": args.replicas,
        "traceparent": not args.no_traceparent,
        "payload_bytes_avg": round(sum(len(value) for _, value in messages) / len(messages), 1),
        "embedded": infra.embedded,
        "load_avg_1m_before": load_before,
        "load_avg_1m_after": load_average(),
        **raw,
        "ingest_events_per_s": ingest_rate,
        "ingest_s": round(ingest_s, 4),
        # Every consumer process's CPU together, per event of the whole run.
        "ingest_consumer_cpu_us_per_event": round(sum(cpu) / args.events * 1e6, 1),
        # Of it, the kernel's part (socket reads and writes, the poller).
        "ingest_consumer_system_cpu_us_per_event": round(sum(system) / args.events * 1e6, 1),
        # Each process: its events, its partitions, its CPU per event it handled, how long it took.
        "ingest_replicas": [
            {
                "events": replica["handled"],
                "partitions": replica["partitions"],
                "assignments": replica["assignments"],
                "cpu_us_per_event": round(spent / max(replica["handled"], 1) * 1e6, 1),
                "busy_s": round(replica["last_handled"]["at"] - replica["started"]["at"], 4),
            }
            for replica, spent in zip(replicas, cpu, strict=True)
        ],
        "ingest_postgres_cpu_us_per_event": round(postgres_cpu / args.events * 1e6, 1),
        "ingest_broker_cpu_us_per_event": None if broker_cpu is None else round(broker_cpu / args.events * 1e6, 1),
        # The most the cores could ingest if every one were busy with nothing but this work.
        "ingest_cpu_ceiling_events_per_s": per_second(usable_cores() * args.events, all_cpu),
        "ingest_vs_raw_consume": round(ingest_rate / raw["raw_consume_events_per_s"], 4),
        "verify_entries_per_s": per_second(args.events, verify_s),
        "ingest_meets_10k_per_s": ingest_rate >= 10_000,
        "ingest_meets_25k_per_s": ingest_rate >= 25_000,
    }


async def ingest_in_replicas(
    settings: ServiceSettings, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], float, float | None]:
    """Runs `args.replicas` consumer processes (`audit_replica.py`) in audit's consumer group until the
    chain holds every event; their reports, and PostgreSQL's and the embedded broker's CPU seconds
    from the start (None for a broker not started here)."""
    url = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    command = [sys.executable, str(REPLICA), "--database-url", settings.database_url, "--schema", settings.schema_name]
    command += ["--bootstrap", settings.kafka_bootstrap_servers, "--topic-prefix", settings.topic_prefix]
    pipe = asyncio.subprocess.PIPE
    processes = [await asyncio.create_subprocess_exec(*command, stdin=pipe, stdout=pipe) for _ in range(args.replicas)]
    connection = await asyncpg.connect(url)
    try:
        for process in processes:
            await expect_line(process, "ready")
        postmaster = await postmaster_pid(settings.database_url)
        # Started together, they join the group within one join window and get one assignment;
        # each holds its first poll until all have theirs.
        for process in processes:
            send_line(process, "go")
        await asyncio.gather(*(expect_line(process, "assigned") for process in processes))
        postgres = TreeCpu(postmaster)
        broker = [TreeCpu(child.pid) for child in psutil.Process().children() if "tansu" in child.name()]
        for process in processes:
            send_line(process, "start")

        async def chain_complete() -> bool:
            last = await connection.fetchval(f'SELECT max(seq) FROM "{settings.schema_name}".audit_entries')
            return (last or 0) >= args.events

        await wait_until(chain_complete, interval_s=0.01)
        postgres_cpu = postgres.spent()
        broker_cpu = broker[0].spent() if broker else None
        reports = []
        for process in processes:
            send_line(process, "stop")
            assert process.stdout is not None
            reports.append(json.loads(await process.stdout.readline()))
        return reports, postgres_cpu, broker_cpu
    finally:
        await connection.close()
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def expect_line(process: asyncio.subprocess.Process, expected: str) -> None:
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode().strip()
    if line != expected:
        raise RuntimeError(f"audit replica said {line!r}, expected {expected!r}")


def send_line(process: asyncio.subprocess.Process, line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(f"{line}\n".encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000, help="audit events (default 50000)")
    parser.add_argument(
        "--partitions",
        type=int,
        default=partitions_of("audit.event"),
        help="partitions of the topic (default: as the platform creates audit.event)",
    )
    parser.add_argument("--no-traceparent", action="store_true", help="events without the relay's traceparent")
    parser.add_argument(
        "--replicas", type=int, default=usable_cores(), help="consumer processes in the group (default: the cores)"
    )
    args = parser.parse_args()
    if not 1 <= args.replicas <= args.partitions:
        parser.error("--replicas must be between 1 and the partitions (a member without one would never start)")

    report_measurement(measure, args)


if __name__ == "__main__":
    main()
