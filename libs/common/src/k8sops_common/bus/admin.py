"""Topic administration, broker reachability, and stopping clients whose broker is gone."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient, CloseReason
from aiokafka.errors import TopicAlreadyExistsError

from ..events.catalog import TOPICS, dlq_topic

log = logging.getLogger(__name__)


def all_topic_names(prefix: str = "") -> list[str]:
    names = [f"{prefix}{topic}" for topic in TOPICS]
    return names + [dlq_topic(name) for name in names]


# Partitions bound how many members of a consumer group work at once. Three for every topic, but
# `audit.event`, which every service writes into and audit's processes share: six split evenly
# between one, two, three or six of them (with three, two processes got 2/3 and 1/3 of the events,
# and the busier one set audit's pace: bench/README.md "Audit ingest (stop 12)").
DEFAULT_PARTITIONS = 3
TOPIC_PARTITIONS = {"audit.event": 6}


def partitions_of(name: str) -> int:
    """The partitions a topic is created with, whatever its prefix (a DLQ has the default)."""
    return next((count for topic, count in TOPIC_PARTITIONS.items() if name.endswith(topic)), DEFAULT_PARTITIONS)


async def ensure_topics(bootstrap_servers: str, names: list[str], *, partitions: int | None = None) -> None:
    """Creates the topics that do not exist yet, each with `partitions` (None: `partitions_of`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(name=name, num_partitions=partitions or partitions_of(name), replication_factor=1)
                        for name in missing
                    ]
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


# Far above a normal stop (well under a second) and a group leave on a loaded machine.
CLIENT_STOP_TIMEOUT_S = 10.0


class KafkaClient(Protocol):
    async def stop(self) -> None: ...


def cancelled_from_outside() -> bool:
    """Whether our own task is being cancelled (as opposed to a CancelledError leaking out of aiokafka)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def stop_client(client: KafkaClient | None, timeout_s: float = CLIENT_STOP_TIMEOUT_S) -> None:
    """Stops an aiokafka client, whatever state its broker is in.

    aiokafka 0.14's `AIOKafkaConsumer.stop()` raises CancelledError when a fetch is backing off
    after a connection error (its fetcher cancels that task, then awaits it). Caught by no
    `except Exception`, it ended the whole consumer task silently: a service's consumer stopped
    for good after an error during a broker restart (issue 11's durability test under load).

    A stop is also bounded by `timeout_s`: a consumer's stop waits for its group coordination to
    finish, which on a restarted Tansu could hang for good while rejoining (the consumer that had
    found its log replaced never reconnected: `test_broker_outage_…` stuck beside a CPU hog). Past
    the bound the stop is cancelled, the client torn down without waiting (`abandon`), and the
    caller goes on with a new one.
    """
    if client is None:
        return
    stopping = asyncio.ensure_future(client.stop())
    stopping.add_done_callback(_retrieve_outcome)
    try:
        done, _ = await asyncio.wait({stopping}, timeout=timeout_s)
    except asyncio.CancelledError:
        stopping.cancel()
        raise
    if not done:
        stopping.cancel()
        abandon(client)
        log.warning("a kafka client did not stop within %.0fs; closed its connections without waiting", timeout_s)
        return
    try:
        stopping.result()
    except asyncio.CancelledError:
        if cancelled_from_outside():
            raise
        log.info("stopping a kafka client raised CancelledError inside aiokafka; it is stopped")
    except Exception:  # the broker is gone; nothing left to flush
        log.debug("stopping a kafka client failed", exc_info=True)


def abandon(client: object) -> None:
    """Cancels the background tasks of an aiokafka client whose stop overran, and closes its sockets.

    A cancelled stop leaves whatever it had not reached yet running: the consumer's fetcher and
    heartbeat, the client's metadata refresh, a reader task and a socket per connection. Nothing
    here waits, so it cannot hang; what it cannot find (another client type) it leaves alone.
    """
    network = getattr(client, "_client", None) or getattr(client, "client", None)
    parts = [client, network, *(getattr(client, name, None) for name in ("_coordinator", "_fetcher", "_sender"))]
    for part in parts:
        for value in list(getattr(part, "__dict__", {}).values()):
            tasks = value if isinstance(value, set | list) else [value]
            for task in tasks:
                if isinstance(task, asyncio.Task) and not task.done():
                    task.add_done_callback(_retrieve_outcome)
                    task.cancel()
    if isinstance(network, AIOKafkaClient):
        for connection in list(network._conns.values()):
            connection.close(reason=CloseReason.SHUTDOWN)


def _retrieve_outcome(future: asyncio.Future[Any]) -> None:
    """Marks a stop's (or a task's) exception as seen, so one left behind does not log 'never retrieved'."""
    if not future.cancelled():
        future.exception()
