"""Ingest's fast path (`chain_rows`) stores exactly the rows, canonical bytes and chain hashes the
general path (an `AuditEntry` per event, `chain_entries`, `entry_record`) stores, and hands every
event it does not take to the general path, which refuses a bad one with the error it always gave."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from k8sops_audit.domain.chain import GENESIS, ChainHead, chain_entries
from k8sops_audit.domain.entry import InvalidAuditEntryError
from k8sops_audit.domain.rows import chain_rows, entry_record, finish_rows, prepare_rows
from k8sops_audit.service import _event_fields, entries_from_events, stored_rows
from k8sops_common.bus import Outbox, ReceivedEvent
from k8sops_common.bus.parsing import RecordParser
from k8sops_common.events.catalog import ActorV1, AuditEventV1, AuditTargetV1
from k8sops_common.settings import ServiceSettings

OUTBOX = Outbox(ServiceSettings(service_name="upgrade-runner"))
PARSER = RecordParser("", {"k8sops.audit.event.v1"})
RECORDED_AT = datetime(2026, 11, 28, 3, 0, 0, 123456, tzinfo=UTC)
HEAD = ChainHead(41, hashlib.sha256(b"the entry before").hexdigest())


def received(data: AuditEventV1, traceparent: str | None = None) -> ReceivedEvent:
    """The event as the consumer hands it over: its envelope's JSON parsed from the record."""
    value = OUTBOX.envelope(data).model_dump_json().encode()
    headers = [("traceparent", traceparent.encode())] if traceparent else []
    return PARSER.parse(ConsumerRecord("audit.event", 0, 0, 0, 0, b"k", value, None, 1, len(value), headers))


def event(number: int, **overrides: Any) -> AuditEventV1:
    fields: dict[str, Any] = {
        "actor": ActorV1(sub=f"operator-{number % 3}@provider.example", roles=["k8s-ops.operator"]),
        "action": "pod.evict",
        "target": AuditTargetV1(kind="Pod", name=f"web-{number}", namespace="shop", cluster="prod-1"),
        "engagement_id": f"eng-{number % 4}",
        "outcome": "success",
        "trace_id": f"{number:032x}",
        "source_service": "upgrade-runner",
        "occurred_at": datetime(2026, 11, 28, 2, 0, tzinfo=UTC) + timedelta(seconds=number, microseconds=number),
        "details": {"node": f"node-{number % 5}", "attempt": number},
    }
    return AuditEventV1(**(fields | overrides))


def general_rows(
    events: list[ReceivedEvent], head: ChainHead, recorded_at: datetime = RECORDED_AT
) -> list[tuple[Any, ...]]:
    """What ingest stored before the fast path."""
    chained = chain_entries(head, entries_from_events(events, head.sequence + 1, recorded_at))
    return [entry_record(item) for item in chained]


def fast_rows(events: list[ReceivedEvent], head: ChainHead) -> list[tuple[Any, ...]] | None:
    return chain_rows(head, _event_fields(events), RECORDED_AT)


UNUSUAL = [
    event(1, actor=ActorV1(sub="Zoë 🚀", roles=["b.role", "a.role", "b.role"]), engagement_id=None),
    event(2, target=AuditTargetV1(kind="ClusterRole", name="ädmin"), authorization_ref="auth-7"),
    event(3, occurred_at=datetime(2026, 11, 28, 9, 30, 0, 5, tzinfo=timezone(timedelta(hours=6)))),
    event(4, details={"big": 2**60, "neg": -(2**53) - 1, "flag": True, "none": None, "ключ": "значение"}),
    event(5, details={"quote": 'say "hi"\n\ttab', "path": "C:\\temp", "ctl": "\x01\x1f"}),
    event(6, trace_id=None, outcome="denied", details={}),
    event(7, trace_id=None, outcome="failure", actor=ActorV1(sub="ci", roles=[])),
]


def test_the_fast_path_writes_the_rows_and_hashes_of_the_general_path() -> None:
    events = [received(event(number)) for number in range(8, 40)]
    events += [received(data) for data in UNUSUAL]
    # A trace id from the Kafka header when the event has none, as the general path takes it.
    events.append(received(event(40, trace_id=None), f"00-{'ab' * 16}-{'cd' * 8}-01"))
    for head in (GENESIS, HEAD):
        fast = fast_rows(events, head)
        assert fast is not None and fast == general_rows(events, head)
        assert stored_rows(events, head, RECORDED_AT) == fast
        assert fast[-1][15] == "ab" * 16


def test_text_that_only_looks_like_an_escaped_nul_is_stored_as_the_general_path_stores_it() -> None:
    events = [received(event(1)), received(event(2, details={"path": "C:\\u0000"}))]
    assert fast_rows(events, HEAD) is None  # the fast path's check is a conservative one
    assert stored_rows(events, HEAD, RECORDED_AT) == general_rows(events, HEAD)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"action": " "}, "action must be a non-empty string"),
        ({"source_service": "\t"}, "source_service must be a non-empty string"),
        ({"engagement_id": "  "}, "engagement_id must be a non-empty string"),
        ({"authorization_ref": ""}, "authorization_ref must be a non-empty string"),
        ({"actor": ActorV1(sub=" ", roles=[])}, "actor.sub must be a non-empty string"),
        ({"actor": ActorV1(sub="a", roles=["ok", " "])}, "actor.roles[] must be a non-empty string"),
        ({"target": AuditTargetV1(kind="Pod", name="\n")}, "target.name must be a non-empty string"),
        ({"target": AuditTargetV1(kind="Pod", name="p", cluster=" ")}, "target.cluster must be a non-empty string"),
        ({"occurred_at": datetime(2026, 11, 28, 2, 0)}, "occurred_at must be a timezone-aware datetime"),
    ],
)
def test_a_bad_event_goes_to_the_general_path_and_is_refused_with_its_error(
    overrides: dict[str, Any], error: str
) -> None:
    events = [received(event(1)), received(event(2, **overrides)), received(event(3))]
    assert fast_rows(events, HEAD) is None
    with pytest.raises(InvalidAuditEntryError, match=error.replace("[", r"\[")) as refused:
        general_rows(events, HEAD)
    with pytest.raises(InvalidAuditEntryError) as refused_now:
        stored_rows(events, HEAD, RECORDED_AT)
    assert str(refused_now.value) == str(refused.value)


@dataclass(frozen=True)
class Fields:
    """Event data the catalog would refuse on receipt, for the fast path's own checks."""

    action: str = "pod.evict"
    actor: ActorV1 = field(default_factory=lambda: ActorV1(sub="a", roles=[]))
    target: AuditTargetV1 = field(default_factory=lambda: AuditTargetV1(kind="Pod", name="p"))
    engagement_id: str | None = None
    outcome: str = "success"
    authorization_ref: str | None = None
    source_service: str = "runner"
    occurred_at: datetime = RECORDED_AT
    details: dict[str, Any] = field(default_factory=dict)


@pytest.mark.parametrize(
    "fields",
    [
        Fields(action="a\x00b"),
        Fields(action="\udc80"),
        Fields(details={"k": "\x00"}),
        Fields(details={"k": float("nan")}),
        Fields(details={"k\udc80": 1}),
        Fields(outcome="maybe"),
        Fields(occurred_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))),  # before year 1 in UTC
        Fields(occurred_at=datetime(2026, 1, 1)),
    ],
)
def test_text_the_database_cannot_hold_is_not_taken_by_the_fast_path(fields: Fields) -> None:
    assert chain_rows(HEAD, [("event-1", fields, None)], RECORDED_AT) is None
    assert chain_rows(HEAD, [("event-1", Fields(), None)], RECORDED_AT) is not None


def test_an_unknown_trace_id_or_an_overlong_event_id_is_not_taken_by_the_fast_path() -> None:
    assert chain_rows(HEAD, [("event-1", Fields(), "ABC")], RECORDED_AT) is None
    assert chain_rows(HEAD, [("e" * 201, Fields(), None)], RECORDED_AT) is None


texts = st.text(min_size=0, max_size=12)
optional_texts = st.none() | texts
detail_values = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | texts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sub=texts,
    roles=st.lists(texts, max_size=3),
    action=texts,
    kind=texts,
    name=texts,
    namespace=optional_texts,
    engagement_id=optional_texts,
    details=st.dictionaries(texts, detail_values, max_size=4),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_any_receivable_event_gets_the_general_path_rows_or_its_error(
    sub: str,
    roles: list[str],
    action: str,
    kind: str,
    name: str,
    namespace: str | None,
    engagement_id: str | None,
    details: dict[str, Any],
    offset_minutes: int,
) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    try:
        data = event(
            9,
            actor=ActorV1(sub=sub, roles=roles),
            action=action,
            target=AuditTargetV1(kind=kind, name=name, namespace=namespace),
            engagement_id=engagement_id,
            details=details,
            occurred_at=datetime(2026, 11, 28, 2, 0, 0, 777, tzinfo=UTC).astimezone(zone),
        )
    except ValidationError:
        assume(False)  # refused on receipt: dead-lettered before ingest sees it
        return
    events = [received(event(8)), received(data)]
    try:
        expected = general_rows(events, HEAD)
    except ValueError as error:
        assert fast_rows(events, HEAD) is None
        with pytest.raises(type(error), match="^" + re.escape(str(error)) + "$"):
            stored_rows(events, HEAD, RECORDED_AT)
        return
    assert stored_rows(events, HEAD, RECORDED_AT) == expected


def test_a_batch_prepared_before_the_lock_is_finished_onto_any_head_at_any_moment_as_the_general_path() -> None:
    """What is prepared before the append lock depends on neither the head nor the recording time:
    the same prepared batch finished after another appender moved the head gives that head's rows."""
    events = [received(event(number)) for number in range(8, 20)] + [received(data) for data in UNUSUAL]
    prepared = prepare_rows(_event_fields(events))
    assert prepared is not None
    later = datetime(2026, 11, 28, 9, 15, 0, 1, tzinfo=timezone(timedelta(hours=-5)))
    for head in (GENESIS, HEAD, ChainHead(2**40, hashlib.sha256(b"another appender").hexdigest())):
        for recorded_at in (RECORDED_AT, later):
            assert finish_rows(prepared, head, recorded_at) == general_rows(events, head, recorded_at)


def test_a_bad_event_is_not_prepared_and_a_naive_recording_time_is_not_finished() -> None:
    assert prepare_rows(_event_fields([received(event(1)), received(event(2, action=" "))])) is None
    prepared = prepare_rows(_event_fields([received(event(1))]))
    assert prepared is not None
    assert finish_rows(prepared, HEAD, datetime(2026, 11, 28, 3, 0)) is None
