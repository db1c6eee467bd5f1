"""Parsing what arrives on a topic: a valid event, or a clear reason why it goes to the DLQ."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from k8sops_common.bus.outbox import Outbox
from k8sops_common.bus.parsing import UnprocessableMessage, parse_record
from k8sops_common.events.catalog import EVENT_TYPES, AuditEventV1, RequestOpenedV1
from k8sops_common.settings import ServiceSettings

ACCEPTED = {"k8sops.request.opened.v1"}


def record(value: bytes, topic: str = "request.opened") -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, 0, 0, 0, b"k", value, None, 0, len(value), [])


def opened_event_json() -> bytes:
    data = RequestOpenedV1(
        request_id="req-1",
        engagement_id="eng-1",
        category="incident",
        priority="P1",
        title="x",
        opened_at=datetime(2026, 1, 1, tzinfo=UTC),
        opened_by="alice",
    )
    return Outbox(ServiceSettings(service_name="intake")).envelope(data).model_dump_json().encode()


def test_an_outbox_envelope_parses_back_to_its_typed_data() -> None:
    event = parse_record(record(opened_event_json()), "", ACCEPTED)
    assert isinstance(event.data, RequestOpenedV1)
    assert event.envelope.subject == "req-1"
    assert event.envelope.source == "/k8s-ops/intake"


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda e: "{broken", "not a CloudEvents 1.0 JSON envelope"),
        (lambda e: {**e, "specversion": "0.3"}, "not a CloudEvents 1.0 JSON envelope"),
        (lambda e: {**e, "type": "k8sops.request.opened.v9"}, "is not accepted"),
        (lambda e: {**e, "data": {**e["data"], "priority": "P9"}}, "data does not match"),
        (lambda e: {**e, "data": {**e["data"], "unexpected": 1}}, "data does not match"),
        # Text PostgreSQL cannot store is refused on receipt, not when the consumer's INSERT fails.
        (lambda e: {**e, "data": {**e["data"], "title": "a\x00b"}}, "NUL"),
        (lambda e: {**e, "data": {**e["data"], "opened_by": "\ud800"}}, "unpaired surrogates"),
    ],
)
def test_malformed_messages_are_unprocessable_with_the_reason(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    envelope = json.loads(opened_event_json())
    mutated = mutate(envelope)
    value = mutated.encode() if isinstance(mutated, str) else json.dumps(mutated).encode()
    with pytest.raises(UnprocessableMessage, match=reason):
        parse_record(record(value), "", ACCEPTED)


def test_an_event_on_the_wrong_topic_is_refused() -> None:
    with pytest.raises(UnprocessableMessage, match="does not belong on topic"):
        parse_record(record(opened_event_json(), topic="request.updated"), "", ACCEPTED)


def test_every_event_type_keys_by_a_field_of_its_model() -> None:
    for event_type in EVENT_TYPES:
        assert event_type.key_field in event_type.data_model.model_fields, event_type.name


@pytest.mark.parametrize(
    "actor, details",
    [({"sub": "a\x00b"}, {}), ({"sub": "alice", "roles": ["\ud800"]}, {}), ({"sub": "alice"}, {"k\x00": "v"})],
)
def test_text_postgresql_cannot_hold_is_refused_inside_nested_events_lists_and_keys(  # type: ignore[no-untyped-def]
    actor, details
) -> None:
    audit = {
        "actor": actor,
        "action": "request.create",
        "target": {"kind": "request", "name": "req-1"},
        "outcome": "success",
        "source_service": "intake",
        "occurred_at": "2026-01-01T00:00:00Z",
        "details": details,
    }
    with pytest.raises(ValidationError, match=r"NUL|unpaired surrogates"):
        AuditEventV1.model_validate(audit)
