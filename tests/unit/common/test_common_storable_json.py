"""A record's data parsed straight from its JSON bytes skips the walk for unstorable text only where
none can be: whatever way a NUL or a lone surrogate is written, the record is still refused with
the reason, and text that merely spells `\\u0000` is still taken."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord

from k8sops_common.bus.outbox import Outbox
from k8sops_common.bus.parsing import UnprocessableMessage, parse_record
from k8sops_common.events.catalog import ActorV1, AuditEventV1, AuditTargetV1
from k8sops_common.settings import ServiceSettings

ACCEPTED = {"k8sops.audit.event.v1"}


def audit_json(details: dict[str, str]) -> str:
    data = AuditEventV1(
        actor=ActorV1(sub="alice", roles=["k8s-ops.operator"]),
        action="pod.evict",
        target=AuditTargetV1(kind="Pod", name="web-1"),
        outcome="success",
        source_service="upgrade-runner",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        details=details,
    )
    return Outbox(ServiceSettings(service_name="upgrade-runner")).envelope(data).model_dump_json()


def parse(value: bytes) -> object:
    record = ConsumerRecord("audit.event", 0, 0, 0, 0, b"k", value, None, 0, len(value), [])
    return parse_record(record, "", ACCEPTED).data


@pytest.mark.parametrize(
    ("spelling", "reason"),
    [
        ('"\\u0000"', "NUL"),  # the escape pydantic-core takes
        ('"\\ud800"', "unpaired surrogates"),  # refused by pydantic-core, then parsed slowly
        ('"a\\udfffb"', "unpaired surrogates"),
        ('"\x00"', "not a CloudEvents 1.0 JSON envelope"),  # raw control characters are not JSON
    ],
)
@pytest.mark.parametrize("where", ["value", "key", "nested"])
def test_unstorable_text_in_a_nested_event_is_refused_however_it_is_written(
    spelling: str, reason: str, where: str
) -> None:
    text = audit_json({"placeholder": "PLACEHOLDER"})
    if where == "value":
        text = text.replace('"PLACEHOLDER"', spelling)
    elif where == "key":
        text = text.replace('"placeholder"', spelling)
    else:
        text = text.replace('"web-1"', spelling)
    with pytest.raises(UnprocessableMessage, match=reason):
        parse(text.encode())


def test_text_that_only_spells_an_escaped_nul_is_taken() -> None:
    data = parse(audit_json({"path": "C:\\u0000", "emoji": "🚀"}).encode())
    assert isinstance(data, AuditEventV1)
    assert data.details == {"path": "C:\\u0000", "emoji": "🚀"}
    assert json.loads(audit_json({}))["data"]["details"] == {}
