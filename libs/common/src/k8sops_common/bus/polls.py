"""A consumer's poll between the broker and its transaction, and the group's assignments."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from .parsing import ReceivedEvent, RecordParser, UnprocessableMessage

log = logging.getLogger(__name__)

# Records parsed between two yields to the loop, so that a transaction in flight reads its
# answer within a millisecond or two instead of after the whole poll.
PARSE_YIELD_EVERY = 100


@dataclass
class Poll:
    """One poll's events and refused records, and the offsets to commit once its transaction has.

    `assignment` numbers the group assignment it was fetched under (see `Assignments`).
    """

    events: list[ReceivedEvent] = field(default_factory=list)
    refused: list[tuple[ConsumerRecord[bytes, bytes], str]] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    assignment: int = 0


async def parse_poll(parser: RecordParser, records: Sequence[ConsumerRecord[bytes, bytes]], poll: Poll) -> Poll:
    """Parses the records into `poll`, in order, yielding to the loop now and then."""
    for index, record in enumerate(records, 1):
        try:
            poll.events.append(parser.parse(record))
        except UnprocessableMessage as error:
            poll.refused.append((record, str(error)))
        if index % PARSE_YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return poll


class Assignments(ConsumerRebalanceListener):
    """Counts the partition assignments the group has given this member.

    Every assignment starts each partition again from its committed offset (aiokafka keeps no
    position across a rebalance), so a poll fetched under an earlier one is dropped unhandled:
    its records come again, to this member or to the partition's new owner.
    """

    def __init__(self) -> None:
        self.count = 0

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.count += 1


@dataclass
class InFlight:
    """A poll whose transaction is running."""

    poll: Poll
    handling: asyncio.Task[None]

    async def abandon(self, *, cancel: bool) -> None:
        """Lets the transaction end (or stops it when the consumer is cancelled) without committing offsets."""
        if cancel:
            self.handling.cancel()
        await asyncio.wait([self.handling])
        if not self.handling.cancelled() and self.handling.exception() is not None:
            log.debug("poll abandoned after an error", exc_info=self.handling.exception())
