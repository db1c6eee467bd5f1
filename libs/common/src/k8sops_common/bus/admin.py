"""Topic administration, broker reachability, and stopping clients whose broker is gone."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import TopicAlreadyExistsError

from ..events.catalog import TOPICS, dlq_topic

log = logging.getLogger(__name__)


def all_topic_names(prefix: str = "") -> list[str]:
    names = [f"{prefix}{topic}" for topic in TOPICS]
    return names + [dlq_topic(name) for name in names]


async def ensure_topics(bootstrap_servers: str, names: list[str], *, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(name=name, num_partitions=partitions, replication_factor=1) for name in missing]
                )
            except TopicAlreadyExistsError:
                pass  # another process created it first
    finally:
        await admin.close()


async def ensure_topics_exist(producer: AIOKafkaProducer, topics: set[str], bootstrap_servers: str) -> None:
    """Creates missing topics before a producer publishes into them.

    A restarted in-memory Tansu has forgotten its topics yet acknowledges produce requests for
    them and drops the records (Kafka would refuse them). One metadata round trip per batch keeps
    "acknowledged" meaning "stored" on both.
    """
    metadata = await producer.client.fetch_all_metadata()
    missing = topics - metadata.topics()
    if missing:
        log.warning("creating missing topics %s", sorted(missing))
        await ensure_topics(bootstrap_servers, sorted(missing))
        await producer.client.force_metadata_update()


async def ping_broker(bootstrap_servers: str, *, timeout_s: float = 2.0) -> None:
    """Raises unless a broker answers a metadata request within the timeout."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout=timeout_s)
    finally:
        await client.close()


class KafkaClient(Protocol):
    async def stop(self) -> None: ...


def cancelled_from_outside() -> bool:
    """Whether our own task is being cancelled (as opposed to a CancelledError leaking out of aiokafka)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def stop_client(client: KafkaClient | None) -> None:
    """Stops an aiokafka client, whatever state its broker is in.

    aiokafka 0.14's `AIOKafkaConsumer.stop()` raises CancelledError when a fetch is backing off
    after a connection error (its fetcher cancels that task, then awaits it). Caught by no
    `except Exception`, it ended the whole consumer task silently: a service's consumer stopped
    for good after an error during a broker restart (issue 11's durability test under load).
    """
    if client is None:
        return
    try:
        await client.stop()
    except asyncio.CancelledError:
        if cancelled_from_outside():
            raise
        log.info("stopping a kafka client raised CancelledError inside aiokafka; it is stopped")
    except Exception:  # the broker is gone; nothing left to flush
        log.debug("stopping a kafka client failed", exc_info=True)
