"""Events as another service puts them on the bus, and waiting until a consumer handled them.

`publish(isolation, "sla-timer", event, ...)` sends with a producer of its own; a harness that keeps
a producer calls `send_events` and then `wait_until_handled` on the consumer's inbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from sqlalchemy import MetaData, func, select

from k8sops_common.bus import Outbox
from k8sops_common.bus.tables import inbox_table
from k8sops_common.db import Database
from k8sops_common.events.catalog import EventData, event_type_of
from k8sops_common.settings import ServiceSettings

INBOX = inbox_table(MetaData())


class Bus(Protocol):
    """Where one test's events go (the `isolation` fixture is one)."""

    @property
    def bootstrap(self) -> str: ...

    @property
    def topic_prefix(self) -> str: ...


async def send_events(
    producer: AIOKafkaProducer, topic_prefix: str, source_service: str, events: Iterable[EventData]
) -> list[str]:
    """Sends the envelopes `source_service`'s outbox relay would, in order and keyed by their
    subject; returns their ids. The sends are pipelined and all acknowledged before it returns."""
    outbox = Outbox(ServiceSettings(service_name=source_service))
    ids, deliveries = [], []
    for data in events:
        envelope = outbox.envelope(data)
        ids.append(envelope.id)
        topic = topic_prefix + event_type_of(data).topic
        value, key = envelope.model_dump_json().encode(), str(envelope.subject).encode()
        deliveries.append(await producer.send(topic, value=value, key=key))
    await asyncio.gather(*deliveries)
    return ids


async def publish(bus: Bus, source_service: str, *events: EventData) -> None:
    """`send_events` with a producer of its own, for tests that hold none."""
    producer = AIOKafkaProducer(bootstrap_servers=bus.bootstrap, enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        await send_events(producer, bus.topic_prefix, source_service, events)
    finally:
        await producer.stop()


async def wait_until_handled(database: Database, event_ids: Sequence[str], timeout_s: float = 30.0) -> None:
    """Waits until the consumer writing to `database` has recorded every event in its inbox."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    query = select(func.count()).select_from(INBOX).where(INBOX.c.event_id.in_(event_ids))
    while True:
        async with database.sessions() as session:
            handled = await session.scalar(query)
        if handled == len(event_ids):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"only {handled} of {len(event_ids)} events handled within {timeout_s}s")
        await asyncio.sleep(0.05)
