"""Whether the log under a consumer is still the one it read: a replaced log is read from its start.

A restarted in-memory Tansu has lost every record, yet a live consumer keeps its position (and
the new broker accepts offsets committed from the old log). Once the relays have refilled a
topic past that position, the consumer would go on from there and skip the new log's records
below it, which are not the ones it handled. Kafka loses nothing on a restart, but a topic
deleted and re-created, or an unclean leader election, replaces a log the same way.

So the consumer remembers, per partition, the offset, timestamp and key of the last record it
handled, and now and then reads the record at that offset back. As the relay's ledger does, each
check looks at the record remembered at the previous check (the anchor), which predates
anything read from a replacement log. A record that is gone, or differs (a record published
again carries a new timestamp), means the log was replaced: the consumer reads that partition
from its beginning, and the inbox drops what it had already handled. A record that Kafka's
retention or compaction removed since is not a replacement: the read-back then finds a later
record, and nothing is replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from .admin import stop_client
from .ledger import read_back, start_verifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handled:
    offset: int
    timestamp: int
    key: bytes | None

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> Handled:
        return cls(record.offset, record.timestamp, record.key)

    def still_held(self, record: ConsumerRecord[bytes, bytes] | None) -> bool:
        if record is None:
            return False
        if record.offset > self.offset:
            return True  # removed by retention or compaction, not replaced
        return (record.timestamp, record.key) == (self.timestamp, self.key)


@dataclass
class Continuity:
    """Checks a consumer's partitions every `interval_s`, and at once after a (re)assignment."""

    bootstrap_servers: str
    client_id: str
    interval_s: float
    latest: dict[TopicPartition, Handled] = field(default_factory=dict)
    anchors: dict[TopicPartition, Handled] = field(default_factory=dict)
    # Replaced partitions read again from the start, until a commit there replaces our old position.
    rewinding: set[TopicPartition] = field(default_factory=set)
    _sought: set[TopicPartition] = field(default_factory=set)  # rewinding, and sought by this member
    _verifier: AIOKafkaConsumer | None = None
    _checked_at: float = float("-inf")
    _checked_assignment: frozenset[TopicPartition] = frozenset()

    def handled(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        for partition, records in batches.items():
            self.latest[partition] = Handled.of(records[-1])

    def due(self, assignment: set[TopicPartition], now: float) -> bool:
        return now - self._checked_at >= self.interval_s or assignment != self._checked_assignment

    def to_check(self, assignment: set[TopicPartition]) -> dict[TopicPartition, Handled]:
        # The anchor where there is one: it predates anything read from a replacement log.
        return {
            partition: self.anchors.get(partition) or self.latest[partition]
            for partition in assignment - self.rewinding
            if partition in self.anchors or partition in self.latest
        }

    def checked(self, assignment: set[TopicPartition], replaced: set[TopicPartition], now: float) -> None:
        """What was read since the last check becomes the anchor of every partition found intact."""
        for partition in assignment - replaced:
            if partition in self.latest:
                self.anchors[partition] = self.latest[partition]
        self._checked_at, self._checked_assignment = now, frozenset(assignment)

    async def replaced(self, assignment: set[TopicPartition], now: float) -> set[TopicPartition]:
        """The assigned partitions whose log is not the one we read."""
        expected = self.to_check(assignment)
        replaced: set[TopicPartition] = set()
        if expected:
            offsets = {partition: handled.offset for partition, handled in expected.items()}
            try:
                held = await read_back(await self._ensure_verifier(), offsets, timeout_s=5.0)
            except (TimeoutError, KafkaError) as error:
                # The broker is away: the same anchors are checked at the next interval, and the
                # consumer itself carries on (a failed check is no reason to leave the group).
                log.info("could not read back %s (%s); checking again later", sorted(map(str, expected)), error)
                self._checked_at, self._checked_assignment = now, frozenset(assignment)
                return set()
            replaced = {partition for partition, handled in expected.items() if not handled.still_held(held[partition])}
        self.checked(assignment, replaced, now)
        return replaced

    def rewind(self, partitions: set[TopicPartition]) -> None:
        """The partitions are read again from their start; their anchors stay until `committed`."""
        self.rewinding |= partitions
        for partition in partitions:
            self.latest.pop(partition, None)

    def to_seek(self, assignment: set[TopicPartition]) -> set[TopicPartition]:
        """Rewinding partitions this group member has not sought to their start yet."""
        partitions = (self.rewinding & assignment) - self._sought
        self._sought |= partitions
        return partitions

    def committed(self, partitions: Iterable[TopicPartition]) -> None:
        """A commit from the new log: a reconnect no longer lands on our old position there."""
        for partition in self.rewinding.intersection(partitions):
            self.anchors.pop(partition, None)
            self.rewinding.discard(partition)
            self._sought.discard(partition)

    def reconnected(self) -> None:
        """A new group member: its first assignment is checked before anything is handled, and it
        seeks every partition still rewinding (it may resume from the old position the broker holds)."""
        self._checked_assignment = frozenset()
        self._sought.clear()

    async def _ensure_verifier(self) -> AIOKafkaConsumer:
        if self._verifier is None:
            self._verifier = await start_verifier(self.bootstrap_servers, self.client_id)
        return self._verifier

    async def close(self) -> None:
        verifier, self._verifier = self._verifier, None
        await stop_client(verifier)
