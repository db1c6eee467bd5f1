"""The AsyncAPI 3.0 document of every topic, generated from the event catalog.

`python -m k8sops_common.events.asyncapi > docs/asyncapi.yaml` regenerates the committed copy; a
test fails when the two differ, so the document cannot drift from the models.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from pydantic import BaseModel

from .catalog import EVENT_TYPES, TOPICS, EventType, dlq_topic
from .envelope import CloudEvent

SERVICES_PRODUCING: dict[str, list[str]] = {
    "engagement.changed": ["intake"],
    "request.opened": ["intake"],
    "request.updated": ["intake"],
    "audit.event": ["intake", "sla-timer", "upgrade-runner", "cost-analyzer"],
    "audit.checkpoint": ["audit"],
    "sla.warning": ["sla-timer"],
    "sla.breached": ["sla-timer"],
    "sla.escalated": ["sla-timer"],
    "credit.issued": ["sla-timer"],
    "upgrade.step": ["upgrade-runner"],
    "drift.measured": ["upgrade-runner"],
    "upgrade.report": ["upgrade-runner"],
    "cost.report": ["cost-analyzer"],
}
SERVICES_CONSUMING: dict[str, list[str]] = {
    "engagement.changed": ["sla-timer", "upgrade-runner", "cost-analyzer"],
    "request.opened": ["sla-timer", "upgrade-runner", "cost-analyzer", "intake (incident paging)"],
    "request.updated": ["sla-timer", "intake (incident paging)"],
    "audit.event": ["audit"],
    "audit.checkpoint": [],
    "sla.warning": ["intake (senior escalation)"],
    "sla.breached": ["intake"],
    "sla.escalated": [],
    "credit.issued": ["billing (outside this platform)", "intake (senior escalation)"],
    "upgrade.step": ["intake"],
    "drift.measured": ["cost-analyzer (quarterly health review)"],
    "upgrade.report": ["intake (to do: comment on the request, file to the partner ticket)"],
    "cost.report": [],
}


def _message_name(event_type: EventType) -> str:
    return event_type.name.replace(".", "_")


def _envelope_schema(event_type: EventType) -> dict[str, Any]:
    model: type[BaseModel] = CloudEvent[event_type.data_model]  # type: ignore[name-defined]
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema["properties"]["type"]["const"] = event_type.name
    return schema


def build_asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        name = _message_name(event_type)
        envelope = _envelope_schema(event_type)
        schemas.update(envelope.pop("$defs", {}))
        schemas[name] = envelope
        messages[name] = {
            "name": event_type.name,
            "title": event_type.name,
            "summary": event_type.description,
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "required": ["content-type", "traceparent"],
                "properties": {
                    "content-type": {
                        "type": "string",
                        "const": "application/cloudevents+json",
                        "description": "CloudEvents Kafka binding, structured mode: the value is the whole event",
                    },
                    "traceparent": {
                        "type": "string",
                        "description": "W3C trace context: the relay's producer span, a child of the producing action",
                    },
                    "tracestate": {"type": "string"},
                },
            },
            "bindings": {"kafka": {"key": {"type": "string", "description": f"the {event_type.key_field}"}}},
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
    for topic in TOPICS:
        refs = [{"$ref": f"#/components/messages/{_message_name(et)}"} for et in EVENT_TYPES if et.topic == topic]
        channels[topic] = {
            "address": topic,
            "description": (
                f"Produced by {', '.join(SERVICES_PRODUCING[topic])}; "
                f"consumed by {', '.join(SERVICES_CONSUMING[topic]) or 'nobody yet'}."
            ),
            "messages": {ref["$ref"].rsplit("/", 1)[-1]: ref for ref in refs},
        }
        channels[dlq_topic(topic)] = {
            "address": dlq_topic(topic),
            "description": (
                f"Messages of {topic} that a consumer could not parse or handle after bounded retries, "
                "unchanged, with headers dlq-error, dlq-source-topic, dlq-source-partition, "
                "dlq-source-offset, dlq-consumer-group, dlq-attempts."
            ),
        }
        operations[f"publish_{topic.replace('.', '_')}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [{"$ref": f"#/channels/{topic}/messages/{key}"} for key in channels[topic]["messages"]],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "K8s Ops platform events",
            "version": "1.0.0",
            "description": (
                "CloudEvents 1.0 (structured JSON) on Kafka, keyed by the aggregate id. Delivery is at least "
                "once on the wire and exactly once in effect (transactional outbox, inbox of handled ids). "
                "Every record carries the header content-type: application/cloudevents+json (the CloudEvents "
                "Kafka protocol binding's structured mode) and a W3C traceparent. "
                "Billing consumes credit.issued: exactly one per SLA breach, amount in BDT, period YYYY-MM."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return yaml.safe_dump(build_asyncapi(), sort_keys=True, allow_unicode=True, width=120)


if __name__ == "__main__":
    sys.stdout.write(render())
