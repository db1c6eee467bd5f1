"""One audit ingest process for `bench_audit.py --replicas N`: the service's consumer and handler,
wired as `serve` wires them, as one member of audit's consumer group.

Protocol on stdin/stdout (one line each): it prints `ready` once built (heap frozen as a service
process freezes it), joins the group on `go` and prints `assigned` when it first holds partitions,
but holds its first poll until `start`: the bench sends that once every replica is assigned, so
that none works alone while the group forms (Tansu answers the members' joins up to a second
apart). On `stop` it leaves the group and prints one JSON object: when it started and handled its
first and last event (`time.perf_counter`, the same clock in every process on Linux), the CPU it
had spent at those moments, how many events it handled, its partitions and how often its
assignment changed (more than once: the group rebalanced during the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord
from bench_bus import counter_value

from k8sops_audit.handlers import subscriptions
from k8sops_common.bus import EventConsumer, Outbox, OutboxRelay, Subscriptions
from k8sops_common.bus.consumer import HANDLED
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.service import ServiceContext, freeze_startup_heap
from k8sops_common.settings import ServiceSettings
from k8sops_common.telemetry import setup_tracing

WATCH_INTERVAL_S = 0.002


class GatedConsumer(EventConsumer):
    """The service's consumer, holding every poll until its gate opens."""

    def __init__(self, settings: ServiceSettings, database: Database, subscriptions: Subscriptions) -> None:
        super().__init__(settings, database, subscriptions)
        self.gate = asyncio.Event()

    async def process(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        await self.gate.wait()
        await super().process(records)


def cpu_now() -> dict[str, float]:
    return {"at": time.perf_counter(), "cpu": time.process_time(), "system": os.times().system}


async def next_line() -> str:
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = ServiceSettings(
        service_name="audit",
        database_url=args.database_url,
        db_schema=args.schema,
        kafka_bootstrap_servers=args.bootstrap,
        topic_prefix=args.topic_prefix,
    )
    setup_tracing(settings.service_name, None)
    database = Database(engine_from_settings(settings))
    context = ServiceContext(settings, database, Outbox(settings), OutboxRelay(settings, database))
    consumer = GatedConsumer(settings, database, subscriptions(context))
    labels = {"service": settings.service_name, "topic": settings.topic("audit.event")}
    freeze_startup_heap()
    print("ready", flush=True)
    if await next_line() != "go":
        raise SystemExit("expected go")
    status: dict[str, Any] = {"handled": 0, "assignments": 0, "partitions": []}
    task = asyncio.create_task(consumer.run())
    command = asyncio.create_task(next_line())
    assignment: frozenset[Any] = frozenset()
    handled = 0.0
    # Polled between the consumer's awaits: a handled poll shows within a couple of milliseconds.
    while True:
        if command.done():
            if command.result() != "start":
                break
            status["started"] = cpu_now()
            consumer.gate.set()
            command = asyncio.create_task(next_line())
        kafka = consumer._consumer
        current = frozenset(kafka.assignment()) if kafka is not None else frozenset()
        if current and current != assignment:
            assignment = current
            status["assignments"] += 1
            status["partitions"] = sorted(partition.partition for partition in current)
            if status["assignments"] == 1:
                print("assigned", flush=True)
        count = counter_value(HANDLED, **labels)
        if count != handled:
            handled = count
            status.setdefault("first_handled", cpu_now())
            status["last_handled"] = cpu_now()
            status["handled"] = int(count)
        await asyncio.sleep(WATCH_INTERVAL_S)
    consumer.stop()
    await asyncio.wait_for(task, 10)
    await database.dispose()
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("--database-url", "--schema", "--bootstrap", "--topic-prefix"):
        parser.add_argument(name, required=True)
    print(json.dumps(asyncio.run(run(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    main()
