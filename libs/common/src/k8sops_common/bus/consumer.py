"""Idempotent consumer: the handled event id is stored in the same transaction as the effects.

Offsets are committed only after the transaction commits, so a crash replays events and the inbox
turns the replay into a no-op. A message that cannot be parsed, or keeps failing after bounded
retries, goes to `<topic>.dlq` with the error, and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import trace
from opentelemetry.trace import Span
from prometheus_client import Counter, Gauge
from sqlalchemy import MetaData, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..events.catalog import EVENT_TYPES_BY_MODEL, EVENT_TYPES_BY_NAME, EventData, dlq_topic
from ..settings import ServiceSettings
from .admin import cancelled_from_outside, ensure_topics_exist, stop_client
from .continuity import Continuity
from .outbox import new_producer
from .parsing import ReceivedEvent, RecordParser, UnprocessableMessage
from .reconnect import ReconnectBackoff
from .spans import batch_span, end_span, event_span_would_record, start_event_span
from .tables import inbox_table

log = logging.getLogger(__name__)

INBOX = inbox_table(MetaData())
INSERT_INBOX = text(
    "INSERT INTO inbox (event_id, topic) SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:topics AS text[])) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
HANDLED = Counter("k8sops_events_handled_total", "Events handled", ["service", "topic"])
DEAD_LETTERED = Counter("k8sops_events_dead_lettered_total", "Events sent to a DLQ", ["service", "topic"])
FETCH_BYTES_PER_PARTITION = 8 * 1024 * 1024
CONSUMER_LAG = Gauge(
    "k8sops_consumer_lag", "Messages behind the end of the partition", ["service", "topic", "partition"]
)


EventHandler = Callable[[AsyncSession, ReceivedEvent], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, list[ReceivedEvent]], Awaitable[None]]


@dataclass
class Subscriptions:
    """Which handler takes which event type; a batch handler sees many events in one transaction."""

    per_event: dict[str, EventHandler] = field(default_factory=dict)
    per_batch: dict[str, BatchHandler] = field(default_factory=dict)

    def on(self, data_model: type[EventData], handler: EventHandler) -> Subscriptions:
        self.per_event[_type_name(data_model)] = handler
        return self

    def on_batch(self, data_model: type[EventData], handler: BatchHandler) -> Subscriptions:
        self.per_batch[_type_name(data_model)] = handler
        return self

    @property
    def topics(self) -> list[str]:
        names = [*self.per_event, *self.per_batch]
        return sorted({EVENT_TYPES_BY_NAME[name].topic for name in names})

    async def dispatch(
        self, session: AsyncSession, events: list[ReceivedEvent], consumer_group: str = "", batch: Span | None = None
    ) -> None:
        """Runs the handlers, each event inside its own `process` span in the trace it came with."""
        for event in events:
            handler = self.per_event.get(event.envelope.type)
            if handler is not None:
                span = start_event_span(event.record, event.id, event.trace_context, consumer_group, batch)
                with trace.use_span(span, end_on_exit=True):
                    await handler(session, event)
        by_type: dict[str, list[ReceivedEvent]] = {}
        for event in events:
            if event.envelope.type in self.per_batch:
                by_type.setdefault(event.envelope.type, []).append(event)
        for type_name, typed in by_type.items():
            # The handler sees each event's trace context with its span in it, so what it writes
            # for one event (audit entries, further events) hangs under that event's span. An
            # event whose span could not record (its trace is not sampled) gets none: the handler
            # sees the context the event came with, in the same trace.
            spans: list[Span] = []
            inside: list[ReceivedEvent] = []
            for event in typed:
                if event_span_would_record(event.record.headers):
                    span = start_event_span(event.record, event.id, event.trace_context, consumer_group, batch)
                    spans.append(span)
                    in_span = trace.set_span_in_context(span, event.trace_context)
                    event = ReceivedEvent(event.envelope, event.record, in_span)
                inside.append(event)
            error: BaseException | None = None
            try:
                await self.per_batch[type_name](session, inside)
            except BaseException as failure:
                error = failure
                raise
            finally:
                for span in spans:
                    end_span(span, error)


def _type_name(data_model: type[EventData]) -> str:
    return EVENT_TYPES_BY_MODEL[data_model].name


def is_infrastructure_error(error: BaseException) -> bool:
    """Database or broker unreachable: retry the whole batch later, never dead-letter for it."""
    if isinstance(error, OperationalError | InterfaceError | OSError | KafkaError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


async def rewind_past_the_end(consumer: AIOKafkaConsumer) -> None:
    """Reads a re-created partition from its beginning instead of from a remembered offset.

    A broker that lost a topic (a restarted in-memory Tansu, a topic deleted and re-created)
    starts its offsets again at 0. Kafka answers a fetch beyond the end with OFFSET_OUT_OF_RANGE,
    which `auto_offset_reset="earliest"` handles; Tansu answers it with nothing and a highwater
    below our position, so the records the new partition receives up to our old position would
    be skipped. Going back to the beginning only replays what the inbox has already seen.
    """
    for partition in consumer.assignment():
        highwater = consumer.highwater(partition)
        if highwater is None:
            continue
        try:
            # Bounded: position() waits for a partition awaiting its reset, for ever if need be.
            position = await asyncio.wait_for(consumer.position(partition), timeout=1.0)
        except TimeoutError:
            continue
        if position > highwater:
            log.warning(
                "%s[%d] ends at %d, before our position: re-created, reading it from the start",
                partition.topic,
                partition.partition,
                highwater,
            )
            read_from_start(consumer, partition)


class LogReplaced(Exception):
    """The log under some of our partitions was replaced: rejoin as a new member."""


def read_from_start(consumer: AIOKafkaConsumer, partition: TopicPartition) -> None:
    """Seeks to offset 0 without waiting (seek_to_beginning waits for a ListOffsets answer): that
    is the start of a Tansu log, and where Kafka's log starts later its OFFSET_OUT_OF_RANGE answer
    meets `auto_offset_reset="earliest"`, which reads from the start."""
    consumer.seek(partition, 0)


class EventConsumer:
    """Consumes the subscribed topics as one consumer-group member, exactly once in effect."""

    def __init__(
        self,
        settings: ServiceSettings,
        database: Database,
        subscriptions: Subscriptions,
        *,
        max_records: int = 2000,
        retry_delay_s: float = 0.2,
    ) -> None:
        self.settings = settings
        self.database = database
        self.subscriptions = subscriptions
        self.max_records = max_records
        self.retry_delay_s = retry_delay_s
        self.topics = [settings.topic(name) for name in subscriptions.topics]
        self._parser = RecordParser(settings.topic_prefix, {*subscriptions.per_event, *subscriptions.per_batch})
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq_producer: Any = None
        self._backoff = ReconnectBackoff()
        self._continuity = Continuity(
            settings.kafka_bootstrap_servers,
            f"{settings.service_name}-consumer-verifier",
            settings.consumer_verify_interval_s,
        )

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.consumer_group,
            client_id=f"{self.settings.service_name}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            # Fewer, larger fetches: with the default 1 MiB (~2,200 events) per partition the loop
            # waited on the broker for a third of a set-based consumer's time (bench/README.md).
            max_partition_fetch_bytes=FETCH_BYTES_PER_PARTITION,
            # Notice new partitions within seconds, not the default five minutes: a restarted
            # in-memory broker re-creates topics with its own partition count.
            metadata_max_age_ms=5_000,
            session_timeout_ms=self.settings.consumer_session_timeout_ms,
            # Several heartbeats per session, so one late beat on a busy machine is not an eviction.
            heartbeat_interval_ms=self.settings.consumer_session_timeout_ms // 5,
        )

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._consume()
            except (asyncio.CancelledError, Exception) as error:
                if isinstance(error, asyncio.CancelledError) and cancelled_from_outside():
                    raise
                # Broker or database away: uncommitted messages are redelivered after reconnecting.
                # A CancelledError leaked from inside aiokafka (`stop_client`) must not end the task.
                failure = f"{type(error).__name__}: {error}"
                delay = self._backoff.failed(asyncio.get_running_loop().time())
                log.warning("consumer %s: %s; reconnecting in %.1fs", self.topics, failure, delay)
                await self._close()
                await self._sleep(delay)
        await self._close()

    async def _consume(self) -> None:
        if self._consumer is None:
            consumer = self._new_consumer()
            try:
                await consumer.start()
            except BaseException:
                await stop_client(consumer)
                raise
            self._consumer = consumer
            self._continuity.reconnected()
        consumer = self._consumer
        loop = asyncio.get_running_loop()
        self._backoff.connected(loop.time())
        while not self._stopping.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
            assignment = consumer.assignment()
            if self._continuity.due(assignment, loop.time()):
                await self._notice_replaced_logs(consumer, assignment)
            for partition in self._continuity.to_seek(assignment):
                batches.pop(partition, None)  # fetched from our old position, skipping the new log's start
                read_from_start(consumer, partition)
            if not batches:
                await rewind_past_the_end(consumer)
                continue
            # One transaction for the whole poll: records stay in partition order, and commits
            # (the per-transaction cost) are shared by every partition's records.
            await self.process([record for records in batches.values() for record in records])
            self._continuity.handled(batches)
            offsets = {partition: records[-1].offset + 1 for partition, records in batches.items()}
            await consumer.commit(offsets)
            self._continuity.committed(offsets)
            self._backoff.handled()
            self._record_lag(consumer, offsets)

    async def _notice_replaced_logs(self, consumer: AIOKafkaConsumer, assignment: set[TopicPartition]) -> None:
        """A partition whose log was replaced under us (continuity.py) is read again from its start,
        by a new group member: the replacement may have another partition count (a restarted
        Tansu re-creates a topic a client asks about with its own default of 4), which a live
        member was seen not to notice, leaving the new partition unread."""
        replaced = await self._continuity.replaced(assignment, asyncio.get_running_loop().time())
        if not replaced:
            return
        for partition in replaced:
            log.warning(
                "%s[%d] no longer holds the last record we handled: replaced, reading it from the start"
                " (its highwater %s)",
                partition.topic,
                partition.partition,
                consumer.highwater(partition),
            )
        self._continuity.rewind(replaced)
        raise LogReplaced(sorted(map(str, replaced)))

    def _record_lag(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        for partition, position in offsets.items():
            highwater = consumer.highwater(partition)
            if highwater is not None:
                CONSUMER_LAG.labels(self.settings.service_name, partition.topic, partition.partition).set(
                    max(highwater - position, 0)
                )

    async def process(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Handles one poll's records: all in one transaction, or one by one if that fails."""
        events: list[ReceivedEvent] = []
        for record in records:
            try:
                events.append(self._parser.parse(record))
            except UnprocessableMessage as error:
                await self._dead_letter(record, str(error), attempts=0)
        if not events:
            return
        try:
            await self._handle_in_one_transaction(events)
            return
        except Exception as error:
            if is_infrastructure_error(error):
                raise
            if len(events) == 1:
                log.info("event %s failed; retrying it alone", events[0].id, exc_info=True)
            else:
                log.info("batch of %d failed; handling one by one to isolate the bad event", len(events), exc_info=True)
        for event in events:
            await self._handle_with_retries(event)

    async def _handle_in_one_transaction(self, events: list[ReceivedEvent]) -> None:
        group = self.settings.consumer_group
        contexts = (event.trace_context for event in events)
        with batch_span([event.record for event in events], contexts, group) as span:
            fresh = await self._handle_batch(events, span)
        for topic, count in Tally(event.record.topic for event in fresh).items():
            HANDLED.labels(self.settings.service_name, topic).inc(count)

    async def _handle_batch(self, events: list[ReceivedEvent], span: Span) -> list[ReceivedEvent]:
        async with self.database.unit_of_work() as session:
            # One statement with two array parameters, however large the batch.
            fresh_ids = set(
                (
                    await session.execute(
                        INSERT_INBOX,
                        {"ids": [event.id for event in events], "topics": [event.record.topic for event in events]},
                    )
                ).scalars()
            )
            fresh: list[ReceivedEvent] = []
            for event in events:
                # A redelivered event, or the same id twice in one batch, is handled once.
                if event.id in fresh_ids:
                    fresh.append(event)
                    fresh_ids.discard(event.id)
            await self.subscriptions.dispatch(session, fresh, self.settings.consumer_group, span)
        return fresh

    async def _handle_with_retries(self, event: ReceivedEvent) -> None:
        last_error = ""
        for attempt in range(1, self.settings.consumer_max_attempts + 1):
            try:
                await self._handle_in_one_transaction([event])
                return
            except Exception as error:
                if is_infrastructure_error(error):
                    raise
                last_error = f"{type(error).__name__}: {error}"
                log.warning("event %s attempt %d failed: %s", event.id, attempt, last_error)
                if attempt < self.settings.consumer_max_attempts:
                    await asyncio.sleep(self.retry_delay_s * attempt)
        await self._dead_letter(event.record, last_error, attempts=self.settings.consumer_max_attempts)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: str, *, attempts: int) -> None:
        if self._dlq_producer is None:
            producer = new_producer(self.settings, client_id=f"{self.settings.service_name}-dlq")
            await producer.start()
            self._dlq_producer = producer
        headers = [
            *(record.headers or ()),
            ("dlq-error", error[:4000].encode()),
            ("dlq-source-topic", record.topic.encode()),
            ("dlq-source-partition", str(record.partition).encode()),
            ("dlq-source-offset", str(record.offset).encode()),
            ("dlq-consumer-group", self.settings.consumer_group.encode()),
            ("dlq-attempts", str(attempts).encode()),
        ]
        topic = dlq_topic(record.topic)
        await ensure_topics_exist(self._dlq_producer, {topic}, self.settings.kafka_bootstrap_servers)
        await self._dlq_producer.send_and_wait(topic, value=record.value, key=record.key, headers=headers)
        DEAD_LETTERED.labels(self.settings.service_name, record.topic).inc()
        log.error("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, error)

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        producer, self._dlq_producer = self._dlq_producer, None
        await self._continuity.close()
        await stop_client(consumer)
        await stop_client(producer)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    def stop(self) -> None:
        """Finishes the batch in hand, commits its offsets, then leaves the group."""
        self._stopping.set()
