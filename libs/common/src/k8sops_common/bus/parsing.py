"""What arrives on a topic: a typed event, or the reason it goes to the DLQ.

Every topic carries one event type, so a record on a topic is first validated in one
pydantic-core pass straight into that type's envelope, `CloudEvent[<its data model>]`. Anything
that pass refuses (or an envelope of another type) is parsed again step by step, which names the
reason: not an envelope, a type not accepted here or not on this topic, data not matching its type.
"""

from __future__ import annotations

import json
from typing import Any

from aiokafka import ConsumerRecord
from opentelemetry import context as otel_context
from pydantic import BaseModel, ValidationError

from ..events.catalog import EVENT_TYPES_BY_NAME, STORABLE_JSON, EventData, EventType
from ..events.envelope import CloudEvent, RawCloudEvent
from .tracing import context_from_headers


class ReceivedEvent:
    """A validated event together with where it came from and its trace context.

    The trace context is read from the record's headers when first asked for: a set-based handler
    that never asks saves the parse (a third of a consumed event's CPU before).
    """

    __slots__ = ("_trace_context", "envelope", "record")

    def __init__(
        self,
        envelope: CloudEvent[EventData],
        record: ConsumerRecord[bytes, bytes],
        trace_context: otel_context.Context | None = None,
    ) -> None:
        self.envelope = envelope
        self.record = record
        self._trace_context = trace_context

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def data(self) -> EventData:
        return self.envelope.data

    @property
    def trace_context(self) -> otel_context.Context:
        if self._trace_context is None:
            self._trace_context = context_from_headers(self.record.headers)
        return self._trace_context

    @property
    def traceparent(self) -> str | None:
        for name, value in self.record.headers or ():
            if name == "traceparent":
                return value.decode("latin-1")
        return None


class UnprocessableMessage(Exception):
    """The message is not an event this consumer accepts; retrying cannot help."""


# Parametrised once and held: pydantic keeps `CloudEvent[...]` classes weakly and looks them up
# in its generics cache on every use.
TYPED_ENVELOPE = CloudEvent[EventData]
_ENVELOPES: dict[str, type[BaseModel]] = {}


def _envelope_of(event_type: EventType) -> type[BaseModel]:
    envelope = _ENVELOPES.get(event_type.name)
    if envelope is None:
        envelope = _ENVELOPES[event_type.name] = CloudEvent[event_type.data_model]  # type: ignore[name-defined]
    return envelope


class RecordParser:
    """Parses the records of the topics a consumer reads, given its topic prefix and accepted types."""

    def __init__(self, topic_prefix: str, accepted: set[str]) -> None:
        self.topic_prefix = topic_prefix
        self.accepted = accepted
        # The one accepted type of each (prefixed) topic, with its typed envelope.
        self._by_topic: dict[str, tuple[str, type[BaseModel]]] = {
            topic_prefix + event_type.topic: (name, _envelope_of(event_type))
            for name, event_type in EVENT_TYPES_BY_NAME.items()
            if name in accepted
        }

    def parse(self, record: ConsumerRecord[bytes, bytes]) -> ReceivedEvent:
        expected = self._by_topic.get(record.topic)
        if expected is not None:
            value = record.value or b""
            try:
                envelope: Any = expected[1].model_validate_json(
                    value, context=None if b"\\u0000" in value else STORABLE_JSON
                )
            except ValidationError:
                pass
            else:
                if envelope.type == expected[0]:
                    return ReceivedEvent(envelope, record)
        return ReceivedEvent(self._envelope_step_by_step(record), record)

    def _envelope_step_by_step(self, record: ConsumerRecord[bytes, bytes]) -> CloudEvent[EventData]:
        try:
            raw = RawCloudEvent.model_validate_json(record.value or b"")
        except ValidationError:
            raw = _parsed_slowly(record.value or b"")
        event_type = EVENT_TYPES_BY_NAME.get(raw.type)
        if event_type is None or raw.type not in self.accepted:
            raise UnprocessableMessage(f"event type {raw.type!r} is not accepted on this topic")
        if self.topic_prefix + event_type.topic != record.topic:
            raise UnprocessableMessage(f"event type {raw.type!r} does not belong on topic {record.topic!r}")
        try:
            data = event_type.data_model.model_validate(raw.data)
        except ValidationError as error:
            raise UnprocessableMessage(f"data does not match {raw.type}: {error}") from error
        # From the instance's fields directly: `dict(raw)` asks the model for `keys` first, and
        # pydantic answers that missing attribute slowly.
        return TYPED_ENVELOPE.model_construct(**{**raw.__dict__, "data": data})


def _parsed_slowly(value: bytes) -> RawCloudEvent:
    """The stdlib parser, for what pydantic-core refused: it reads JSON that pydantic-core does not
    (an unpaired surrogate escape), so the reason given is the one the data checks name."""
    try:
        return RawCloudEvent.model_validate(json.loads(value))
    except (ValueError, ValidationError) as error:
        raise UnprocessableMessage(f"not a CloudEvents 1.0 JSON envelope: {error}") from error


def parse_record(record: ConsumerRecord[bytes, bytes], topic_prefix: str, accepted: set[str]) -> ReceivedEvent:
    """One record on its own (a consumer keeps a `RecordParser`)."""
    return RecordParser(topic_prefix, accepted).parse(record)
