"""Transactional outbox: events are rows written in the same transaction as the state change.

`Outbox.add` only inserts a row; `OutboxRelay` publishes committed rows to Kafka in id order and
marks them sent. Sent rows stay for the retention and go out again if the broker loses them
(`ledger.py`). One relay per service works at a time (a transaction-scoped advisory lock), which
keeps every key's events in order even with several replicas; the others stand by.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import Counter, Gauge
from sqlalchemy import ARRAY, BigInteger, MetaData, any_, cast, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..events.catalog import EventData, event_type_of
from ..events.envelope import SOURCE_PREFIX, CloudEvent, new_event_id, utc_now
from ..settings import ServiceSettings
from .admin import ensure_topics_exist, stop_client
from .ledger import SendLedger, lost_topics, prune, republish, start_verifier
from .spans import end_span, start_producer_span
from .tables import outbox_table
from .tracing import current_trace_headers, headers_for_span
from .wakeup import OutboxWakeup

log = logging.getLogger(__name__)
# The CloudEvents Kafka protocol binding's marker for structured mode: the value is the whole event.
CONTENT_TYPE_HEADER = ("content-type", b"application/cloudevents+json")
BACKLOG_INTERVAL_S = 5.0

OUTBOX = outbox_table(MetaData())
OUTBOX_PUBLISHED = Counter("k8sops_outbox_published_total", "Outbox rows published to Kafka", ["service"])
OUTBOX_BACKLOG = Gauge("k8sops_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_REPUBLISHED = Counter(
    "k8sops_outbox_republished_total", "Outbox rows published again after the broker lost them", ["service"]
)


# Pydantic keeps parametrised generic classes only weakly: without a reference of our own each
# `CloudEvent[SomeData]` was built again (a new model class, ~2 ms) whenever the last one was collected.
_ENVELOPE_CLASSES: dict[type[EventData], type[CloudEvent[Any]]] = {}


def envelope_class(data_type: type[EventData]) -> type[CloudEvent[Any]]:
    envelope = _ENVELOPE_CLASSES.get(data_type)
    if envelope is None:
        envelope = _ENVELOPE_CLASSES[data_type] = CloudEvent[data_type]  # type: ignore[valid-type]
    return envelope


class Outbox:
    """Writes events into the current unit of work; nothing reaches Kafka before it commits."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.source = SOURCE_PREFIX + settings.service_name
        self._topic = settings.topic

    def envelope(self, data: EventData, *, event_id: str | None = None) -> CloudEvent[EventData]:
        event_type = event_type_of(data)
        key = getattr(data, event_type.key_field) or "none"
        # Parametrised on the concrete type: pydantic serialises `data` by its declared type.
        return envelope_class(type(data))(
            id=event_id or new_event_id(),
            source=self.source,
            type=event_type.name,
            subject=str(key),
            time=utc_now(),
            data=data,
        )

    async def add(self, session: AsyncSession, data: EventData, *, event_id: str | None = None) -> str:
        event = self.envelope(data, event_id=event_id)
        await self._insert(session, [event])
        return event.id

    async def add_all(self, session: AsyncSession, events: Sequence[EventData]) -> list[str]:
        """The events of one command in one multi-row INSERT (one round trip instead of one each);
        the rows take their ids, and so their publishing order, from the list's order."""
        envelopes = [self.envelope(data) for data in events]
        if envelopes:
            await self._insert(session, envelopes)
        return [event.id for event in envelopes]

    async def _insert(self, session: AsyncSession, events: list[CloudEvent[EventData]]) -> None:
        trace_headers = current_trace_headers()
        traceparent, tracestate = trace_headers.get("traceparent"), trace_headers.get("tracestate")
        rows = [
            {
                "event_id": event.id,
                "topic": self._topic(event_type_of(event.data).topic),
                "key": event.subject,
                "payload": event.model_dump_json(),
                "traceparent": traceparent,
                "tracestate": tracestate,
            }
            for event in events
        ]
        await session.execute(OUTBOX.insert().values(rows))


def new_producer(settings: ServiceSettings, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": f"{settings.service_name}-producer",
        "acks": "all",
        "linger_ms": 5,
        "request_timeout_ms": 10_000,
        # The embedded broker has no idempotent producer; exactly-once comes from outbox + inbox.
        "enable_idempotence": False,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


class OutboxRelay:
    """Publishes committed outbox rows in order, retrying while the broker is away."""

    def __init__(
        self,
        settings: ServiceSettings,
        database: Database,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        # The relay always has a burst in hand: lingering would only delay the last partial Kafka
        # batch, whose acknowledgement it waits for before reading the next outbox batch.
        self._producer_factory = producer_factory or (lambda: new_producer(settings, linger_ms=0))
        self._producer: AIOKafkaProducer | None = None
        self._verifier: AIOKafkaConsumer | None = None
        self.ledger = SendLedger()
        self._stopping = asyncio.Event()
        self._wakeup = OutboxWakeup(settings)
        # Same lock id for every replica of one service, distinct between services and test schemas.
        digest = hashlib.sha256(f"outbox:{settings.schema_name}".encode()).digest()
        self._lock_id = int.from_bytes(digest[:8], "big", signed=True)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _ensure_verifier(self) -> AIOKafkaConsumer:
        if self._verifier is None:
            client_id = f"{self.settings.service_name}-outbox-verifier"
            self._verifier = await start_verifier(self.settings.kafka_bootstrap_servers, client_id)
        return self._verifier

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        verifier, self._verifier = self._verifier, None
        await stop_client(producer)
        await stop_client(verifier)

    async def verify(self) -> set[str]:
        """Publishes again every retained row of a topic in which the broker lost an acknowledged send."""
        expected = self.ledger.to_check()
        if not expected:
            return set()
        producer = await self._ensure_producer()
        verifier = await self._ensure_verifier()
        lost = await lost_topics(producer, verifier, expected, timeout_s=10)
        if lost:
            async with self.database.unit_of_work() as session:
                count = await republish(session, lost)
            OUTBOX_REPUBLISHED.labels(self.settings.service_name).inc(count)
            log.warning("broker lost acknowledged records of %s; publishing %d rows again", sorted(lost), count)
        self.ledger.checked(lost)
        return lost

    async def prune(self) -> None:
        async with self.database.unit_of_work() as session:
            outbox, inbox = await prune(session, self.settings.outbox_retention_s, self.settings.inbox_retention_s)
        if outbox or inbox:
            log.info("pruned %d sent outbox rows and %d inbox entries past retention", outbox, inbox)

    async def publish_batch(self) -> int:
        """Publishes up to one batch; returns how many rows were sent (0 if idle or not leader)."""
        producer = await self._ensure_producer()
        async with self.database.unit_of_work() as session:
            is_leader = await session.scalar(select(func.pg_try_advisory_xact_lock(self._lock_id)))
            if not is_leader:
                return 0
            # Losing a "sent" mark in a crash only re-publishes rows, which consumers' inboxes absorb.
            await session.execute(text("SET LOCAL synchronous_commit = off"))
            rows = (
                await session.execute(
                    select(
                        OUTBOX.c.id,
                        OUTBOX.c.event_id,
                        OUTBOX.c.topic,
                        OUTBOX.c.key,
                        OUTBOX.c.payload,
                        OUTBOX.c.traceparent,
                        OUTBOX.c.tracestate,
                    )
                    .where(OUTBOX.c.sent_at.is_(None))
                    .order_by(OUTBOX.c.id)
                    .limit(self.settings.outbox_batch_size)
                )
            ).all()
            if not rows:
                return 0
            await ensure_topics_exist(producer, {row.topic for row in rows}, self.settings.kafka_bootstrap_servers)
            spans = [
                start_producer_span(row.topic, row.key, row.event_id, row.traceparent, row.tracestate) for row in rows
            ]
            try:
                deliveries: list[Awaitable[Any]] = []
                for row, span in zip(rows, spans, strict=True):
                    headers = [CONTENT_TYPE_HEADER, *headers_for_span(span, row.tracestate)]
                    deliveries.append(
                        await producer.send(
                            row.topic, value=row.payload.encode(), key=row.key.encode(), headers=headers
                        )
                    )
                delivered_all = await asyncio.gather(*deliveries)
            except BaseException as error:
                for span in spans:
                    end_span(span, error)
                raise
            for row, span, delivered in zip(rows, spans, delivered_all, strict=True):
                span.set_attribute("messaging.destination.partition.id", str(delivered.partition))
                span.set_attribute("messaging.kafka.offset", delivered.offset)
                end_span(span)
                self.ledger.record(TopicPartition(row.topic, delivered.partition), delivered.offset, row.event_id)
            sent_ids = cast([row.id for row in rows], ARRAY(BigInteger))
            await session.execute(update(OUTBOX).where(OUTBOX.c.id == any_(sent_ids)).values(sent_at=func.now()))
        OUTBOX_PUBLISHED.labels(self.settings.service_name).inc(len(rows))
        return len(rows)

    async def backlog(self) -> int:
        async with self.database.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.sent_at.is_(None)))
        return int(count or 0)

    async def run(self) -> None:
        async with self._wakeup.listening_until(self._stopping):
            await self._publish_until_stopped()

    async def _publish_until_stopped(self) -> None:
        backoff = 0.1
        loop = asyncio.get_running_loop()
        backlog_measured_at = verified_at = 0.0
        pruned_at = loop.time()
        while not self._stopping.is_set():
            try:
                if loop.time() - backlog_measured_at > BACKLOG_INTERVAL_S:
                    backlog_measured_at = loop.time()
                    OUTBOX_BACKLOG.labels(self.settings.service_name).set(await self.backlog())
                if loop.time() - verified_at > self.settings.outbox_verify_interval_s:
                    await self.verify()
                    verified_at = loop.time()
                if loop.time() - pruned_at > self.settings.outbox_prune_interval_s:
                    await self.prune()
                    pruned_at = loop.time()
                sent = await self.publish_batch()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # Broker or database away: nothing was marked sent, so the rows go out later, and the
                # broker is checked for what it may have lost before the next batch.
                log.warning("outbox relay: %s; retrying in %.1fs", error, backoff)
                verified_at = 0.0
                await self._drop_producer()
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if 0 < sent < self.settings.outbox_batch_size:
                # A trickle of commits goes out in batches at most this often: each batch costs a
                # metadata round trip and a transaction, whatever its size. A lone commit goes at once.
                await self._sleep(self.settings.outbox_batch_interval_s)
            if sent < self.settings.outbox_batch_size:
                # Drained: until a commit notifies (rows committed after the batch's read already
                # did), or the next timer above is due (they keep their cadence).
                timers = [backlog_measured_at + BACKLOG_INTERVAL_S, pruned_at + self.settings.outbox_prune_interval_s]
                if self.ledger.to_check():
                    timers.append(verified_at + self.settings.outbox_verify_interval_s)
                idle_s = min(self.settings.outbox_idle_poll_s, min(timers) - loop.time())
                await self._wakeup.wait(idle_s, self._stopping)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def stop(self) -> None:
        self._stopping.set()
        await self._drop_producer()
