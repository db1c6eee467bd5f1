"""The committed AsyncAPI document is exactly what the event catalog generates."""

from __future__ import annotations

from pathlib import Path

import yaml

from k8sops_common.events.asyncapi import build_asyncapi, render
from k8sops_common.events.catalog import EVENT_TYPES, TOPICS, dlq_topic

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml"


def test_committed_document_matches_the_models() -> None:
    assert DOCUMENT.read_text() == render(), (
        "docs/asyncapi.yaml is stale: run `python -m k8sops_common.events.asyncapi > docs/asyncapi.yaml`"
    )


def test_every_topic_and_its_dlq_is_a_channel() -> None:
    channels = yaml.safe_load(DOCUMENT.read_text())["channels"]
    assert set(channels) == set(TOPICS) | {dlq_topic(topic) for topic in TOPICS}


def test_every_event_type_payload_lists_exactly_the_model_fields() -> None:
    document = build_asyncapi()
    for event_type in EVENT_TYPES:
        name = event_type.name.replace(".", "_")
        envelope = document["components"]["schemas"][name]
        assert envelope["properties"]["type"]["const"] == event_type.name
        data_ref = envelope["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
        data_schema = document["components"]["schemas"][data_ref]
        assert set(data_schema["properties"]) == set(event_type.data_model.model_fields)
        assert event_type.key_field in data_schema["properties"]


def test_billing_finds_the_credit_event_documented() -> None:
    document = build_asyncapi()
    credit = document["components"]["schemas"]["CreditIssuedV1"]
    assert {
        "credit_id",
        "engagement_id",
        "cluster_id",
        "request_id",
        "breach_id",
        "amount_bdt",
        "period",
        "reason",
    } <= set(credit["properties"])
