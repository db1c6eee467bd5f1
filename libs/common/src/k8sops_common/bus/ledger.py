"""The outbox as a durable log: what the relay handed to the broker, and whether the broker kept it.

The broker acknowledges a record and may still lose it: an in-memory Tansu that restarts forgets
everything, a Kafka topic can be deleted and re-created, an unclean leader election truncates a
partition. The relay remembers, per topic-partition, the offset and event id of its last
acknowledged send, and checks now and then that the record at that offset is still that event.
Each check looks at the send remembered at the previous check (the anchor), so a broker that was
replaced in between is noticed even after the relay has written into the new, empty topic. When
a record is gone, every row of that topic still within the outbox retention goes out again, and
the consumers' inboxes (kept at least as long) drop what they had already handled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from sqlalchemy import MetaData, delete, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from .admin import stop_client
from .tables import inbox_table, outbox_table

log = logging.getLogger(__name__)

_METADATA = MetaData()
OUTBOX = outbox_table(_METADATA)
INBOX = inbox_table(_METADATA)


@dataclass(frozen=True)
class Sent:
    offset: int
    event_id: str


@dataclass
class SendLedger:
    """The last acknowledged send per topic-partition, and the one remembered at the last check."""

    latest: dict[TopicPartition, Sent] = field(default_factory=dict)
    anchors: dict[TopicPartition, Sent] = field(default_factory=dict)

    def record(self, partition: TopicPartition, offset: int, event_id: str) -> None:
        current = self.latest.get(partition)
        if current is None or offset > current.offset:
            self.latest[partition] = Sent(offset, event_id)

    def to_check(self) -> dict[TopicPartition, Sent]:
        # The anchor where there is one: it predates anything written into a replacement topic.
        return {**self.latest, **self.anchors}

    def checked(self, lost_topics: set[str]) -> None:
        self.latest = {tp: sent for tp, sent in self.latest.items() if tp.topic not in lost_topics}
        self.anchors = dict(self.latest)


def event_id_of(value: bytes | None) -> str | None:
    try:
        found = json.loads(value or b"").get("id")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


async def lost_topics(
    producer: AIOKafkaProducer, verifier: AIOKafkaConsumer, expected: dict[TopicPartition, Sent], timeout_s: float
) -> set[str]:
    """The topics in which the broker no longer holds a record it acknowledged to us."""
    metadata = await producer.client.fetch_all_metadata()
    lost: set[str] = set()
    present: dict[TopicPartition, Sent] = {}
    for partition, sent in expected.items():
        partitions = metadata.partitions_for_topic(partition.topic)
        if partitions is None or partition.partition not in partitions:
            lost.add(partition.topic)
        else:
            present[partition] = sent
    present = {partition: sent for partition, sent in present.items() if partition.topic not in lost}
    held = await read_back(verifier, {tp: sent.offset for tp, sent in present.items()}, timeout_s)
    for partition, sent in present.items():
        record = held[partition]
        if record is None or record.offset != sent.offset or event_id_of(record.value) != sent.event_id:
            lost.add(partition.topic)
    return lost


async def start_verifier(bootstrap_servers: str, client_id: str) -> AIOKafkaConsumer:
    """A group-less consumer that reads single records back (`read_back`)."""
    verifier = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_auto_commit=False,
        # Where retention or compaction removed the offset, read on from the log's start.
        auto_offset_reset="earliest",
        # One record per partition is all a check reads.
        max_partition_fetch_bytes=16_384,
        request_timeout_ms=10_000,
    )
    try:
        await verifier.start()
    except BaseException:
        await stop_client(verifier)
        raise
    return verifier


async def read_back(
    verifier: AIOKafkaConsumer, offsets: dict[TopicPartition, int], timeout_s: float
) -> dict[TopicPartition, ConsumerRecord[bytes, bytes] | None]:
    """The record at each offset: None where the partition now ends at or before it, a later
    record where the offset itself is no longer held (Kafka's retention or compaction)."""
    # Tansu's ListOffsets answers wrong end offsets, but a fetch's highwater is right.
    pending = dict(offsets)
    held: dict[TopicPartition, ConsumerRecord[bytes, bytes] | None] = {}
    verifier.assign(list(pending))
    for partition, offset in pending.items():
        verifier.seek(partition, offset)
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        while pending:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"could not read back {sorted(map(str, pending))} from the broker")
            batches = await verifier.getmany(*pending, timeout_ms=200)
            for partition, offset in list(pending.items()):
                records = batches.get(partition)
                highwater = verifier.highwater(partition)
                if records:
                    held[partition] = next((record for record in records if record.offset >= offset), None)
                elif highwater is None or highwater > offset:
                    continue  # no answer for this partition yet
                else:
                    held[partition] = None
                del pending[partition]
    finally:
        # Paused, not unassigned: aiokafka asks for every topic's metadata when a consumer's topic
        # list becomes empty, then for these topics again at the next `assign` (half a read-back's
        # CPU, bench/README.md "Bus leftovers (stop 12)"). The next `assign` starts unpaused.
        verifier.pause(*verifier.assignment())
    return held


async def republish(session: AsyncSession, topics: set[str], *, since: datetime | None = None) -> int:
    """Marks the topics' rows sent since `since` (or within the retention) unsent again; returns how many."""
    query = update(OUTBOX).where(OUTBOX.c.topic.in_(sorted(topics)), OUTBOX.c.sent_at.is_not(None))
    if since is not None:
        query = query.where(OUTBOX.c.sent_at >= since)
    result = await session.execute(query.values(sent_at=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune(session: AsyncSession, outbox_retention_s: float, inbox_retention_s: float) -> tuple[int, int]:
    """Deletes sent outbox rows and inbox entries older than their retention."""
    outbox_cut = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, outbox_retention_s)
    inbox_cut = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, inbox_retention_s)
    outbox = await session.execute(delete(OUTBOX).where(OUTBOX.c.sent_at < outbox_cut))
    inbox = await session.execute(delete(INBOX).where(INBOX.c.handled_at < inbox_cut))
    return int(outbox.rowcount or 0), int(inbox.rowcount or 0)  # type: ignore[attr-defined]
