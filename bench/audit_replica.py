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
import contextlib
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

# How often the assignment is looked at: often enough to notice a rebalance, rarely enough to cost
# nothing measurable (the events handled are recorded by the consumer itself, after each poll).
WATCH_INTERVAL_S = 0.05


def cpu_now() -> dict[str, float]:
    return {"at": time.perf_counter(), "cpu": time.process_time(), "system": os.times().system}


class GatedConsumer(EventConsumer):
    """The service's consumer, holding every poll until its gate opens, and noting when and at what
    CPU each poll was done with (the first and the last count)."""

    def __init__(self, settings: ServiceSettings, database: Database, subscriptions: Subscriptions) -> None:
        super().__init__(settings, database, subscriptions)
        self.gate = asyncio.Event()
        self.status: dict[str, Any] = {"handled": 0, "assignments": 0, "partitions": []}
        self._labels = {"service": settings.service_name, "topic": settings.topic("audit.event")}

    async def process(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        await self.gate.wait()
        await super().process(records)
        self.status.setdefault("first_handled", cpu_now())
        self.status["last_handled"] = cpu_now()
        self.status["handled"] = int(counter_value(HANDLED, **self._labels))


async def next_line() -> str:
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


async def obey(consumer: GatedConsumer, stopping: asyncio.Event) -> None:
    """`start` opens the gate at once; anything else (`stop`, or the end of stdin) stops."""
    while (await next_line()) == "start":
        consumer.status["started"] = cpu_now()
        consumer.gate.set()
    stopping.set()


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
    freeze_startup_heap()
    print("ready", flush=True)
    if await next_line() != "go":
        raise SystemExit("expected go")
    status = consumer.status
    task = asyncio.create_task(consumer.run())
    stopping = asyncio.Event()
    commands = asyncio.create_task(obey(consumer, stopping))
    assignment: frozenset[Any] = frozenset()
    while not stopping.is_set():
        kafka = consumer._consumer
        current = frozenset(kafka.assignment()) if kafka is not None else frozenset()
        if current and current != assignment:
            assignment = current
            status["assignments"] += 1
            status["partitions"] = sorted(partition.partition for partition in current)
            if status["assignments"] == 1:
                print("assigned", flush=True)
        # Until assigned, look often: the bench waits for every replica's `assigned`.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), WATCH_INTERVAL_S if assignment else 0.005)
    await commands
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
