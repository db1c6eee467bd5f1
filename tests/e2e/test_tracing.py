"""One request is one trace across Kafka, exported over OTLP/HTTP to a real receiver (SPEC section 10).

intake, sla-timer and audit run as processes exporting to `tests/support/otlp.py`. The request's
trace must hold intake's HTTP span, the relay's producer span, sla-timer's consumer span, the
producer span of its audit event and audit's consumer span, each the child of the one before; and,
once its timer has fallen due, the breach, its credit and their producer spans. Billing's
`credit.issued`, read with librdkafka, carries the trace and the CloudEvents content type. Idle
services make (almost) no spans.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from opentelemetry.instrumentation.utils import suppress_http_instrumentation

from tests.support.otlp import OtlpReceiver, ReceivedSpan

from .conftest import StartService
from .test_first_thread import new_request, set_up_engagement

Eventually = Callable[..., Awaitable[Any]]


def ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain: list[ReceivedSpan] = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def one(spans: list[ReceivedSpan], service: str, kind: str, name: str) -> ReceivedSpan:
    found = [span for span in spans if (span.service, span.kind, span.name) == (service, kind, name)]
    assert len(found) == 1, f"expected one {service} {kind} {name!r}, got {found}"
    return found[0]


def billing_reads_credit(bootstrap: str, topic: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """What billing sees, read with librdkafka (`confluent-kafka`), not the services' aiokafka."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"billing-{topic}", "enable.auto.commit": False})
    try:
        # assign, not subscribe: Tansu makes a librdkafka group join take ~20 s (FACTS.md).
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING) for partition in partitions])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            assert message.error() is None, message.error()
            value = message.value()
            assert value is not None, f"a record without a value on {topic}"
            headers = dict(cast(list[tuple[str, bytes]], message.headers() or []))
            return json.loads(value), headers
        raise AssertionError(f"no record on {topic} within 60 s")
    finally:
        consumer.close()


async def test_one_request_is_one_trace_from_intake_through_breach_and_credit(
    isolation: Any,
    start_service: StartService,
    requester_headers: dict[str, str],
    otlp_receiver: OtlpReceiver,
    eventually: Eventually,
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    services = [await start_service(name, env=env) for name in ("intake", "sla-timer", "audit")]
    intake = services[0]
    await set_up_engagement(intake.url)
    engagements = f"SELECT count(*) AS n FROM {isolation.schema_for('sla-timer')}.engagements"
    await eventually(lambda: isolation.fetch(engagements), lambda rows: rows[0]["n"] == 1, timeout_s=60)

    # An outside client: no trace context of its own. Services built in this test process earlier
    # instrument httpx globally, and their unsampled context (no exporter) would make intake follow it.
    with suppress_http_instrumentation():
        async with httpx.AsyncClient(timeout=10) as client:
            created = await client.post(
                f"{intake.url}/v1/requests", json=new_request("etcd latency"), headers=requester_headers
            )
    assert created.status_code == 201, created.text
    trace_id = created.headers["X-Trace-Id"]
    assert created.headers["traceresponse"].split("-")[1] == trace_id
    request_id = created.json()["id"]
    prefix = isolation.topic_prefix

    # intake → relay → sla-timer → (its audit event) relay → audit.
    # Each service's exporter sends on its own schedule: wait for every hop, not only the last one.
    def request_hops_arrived(spans: list[ReceivedSpan]) -> bool:
        hops = {(span.service, span.kind, span.name) for span in spans}
        return {
            ("intake", "SERVER", "POST /v1/requests"),
            ("intake", "PRODUCER", f"send {prefix}request.opened"),
            ("sla-timer", "CONSUMER", f"process {prefix}request.opened"),
            ("sla-timer", "PRODUCER", f"send {prefix}audit.event"),
        } <= hops and any(span.service == "audit" and span.kind == "CONSUMER" for span in spans)

    spans = await eventually(lambda: _trace(otlp_receiver, trace_id), request_hops_arrived, timeout_s=90)
    by_id = {span.span_id: span for span in spans}
    server = next(span for span in spans if span.service == "intake" and span.kind == "SERVER")
    sent = one(spans, "intake", "PRODUCER", f"send {prefix}request.opened")
    handled = one(spans, "sla-timer", "CONSUMER", f"process {prefix}request.opened")
    assert server in ancestors(sent, by_id)
    assert handled.parent_span_id == sent.span_id
    assert handled.attributes["messaging.system"] == "kafka"
    assert handled.attributes["messaging.message.id"]
    # The event's span links its batch's span: a trace of its own, linking every event in it.
    [(batch_trace, batch_span_id)] = handled.links
    [batch] = [span for span in otlp_receiver.snapshot() if span.span_id == batch_span_id]
    assert batch.kind == "CONSUMER" and batch.trace_id == batch_trace != trace_id
    assert (trace_id, sent.span_id) in batch.links
    arm_audit = [span for span in spans if span.service == "sla-timer" and span.name == f"send {prefix}audit.event"]
    assert arm_audit and all(handled in ancestors(span, by_id) for span in arm_audit)
    audited = [span for span in spans if span.service == "audit" and span.kind == "CONSUMER"]
    assert any(by_id[span.parent_span_id] in arm_audit for span in audited if span.parent_span_id in by_id)

    # The timer falls due: moved a day into the past, as if the day had gone by.
    await isolation.fetch(
        f"UPDATE {isolation.schema_for('sla-timer')}.timers SET opened_at = opened_at - interval '1 day',"
        " response_clock_since = response_clock_since - interval '1 day', warn_at = warn_at - interval '1 day',"
        " due_at = due_at - interval '1 day', next_alert_at = next_alert_at - interval '1 day'"
        " WHERE request_id = $1",
        request_id,
    )

    def breach_hops_arrived(spans: list[ReceivedSpan]) -> bool:
        names = {(span.service, span.name) for span in spans}
        sent = {("sla-timer", f"send {prefix}{topic}") for topic in ("sla.breached", "credit.issued", "sla.warning")}
        return {("sla-timer", "sla.alert"), ("intake", f"process {prefix}sla.breached"), *sent} <= names

    spans = await eventually(lambda: _trace(otlp_receiver, trace_id), breach_hops_arrived, timeout_s=90)
    by_id = {span.span_id: span for span in spans}
    alert = one(spans, "sla-timer", "INTERNAL", "sla.alert")
    assert alert.attributes["request_id"] == request_id
    for topic in ("sla.breached", "credit.issued", "sla.warning"):
        assert alert in ancestors(one(spans, "sla-timer", "PRODUCER", f"send {prefix}{topic}"), by_id)
    assert {span.service for span in spans} == {"intake", "sla-timer", "audit"}

    # What billing reads: the credit carries the request's trace and the CloudEvents content type.
    credit, headers = await asyncio.to_thread(billing_reads_credit, isolation.bootstrap, f"{prefix}credit.issued")
    assert credit["type"] == "k8sops.credit.issued.v1" and credit["data"]["request_id"] == request_id
    assert headers["traceparent"].decode().split("-")[1] == trace_id
    assert headers["content-type"] == b"application/cloudevents+json"

    # Idle: nothing to do, so (almost) nothing traced. The window is over once a later span from
    # each service has arrived (each exporter sends in order).
    window_start = time.time_ns()
    await asyncio.sleep(3)
    window_end = time.time_ns()
    with suppress_http_instrumentation():  # an outside client, as above
        async with httpx.AsyncClient(timeout=10) as client:
            for service in services:
                assert (await client.get(f"{service.url}/openapi.json")).status_code == 200

    def flushed(spans: list[ReceivedSpan]) -> bool:
        late = {span.service for span in spans if span.start_ns > window_end and span.name == "GET /openapi.json"}
        return late == {"intake", "sla-timer", "audit"}

    received = await eventually(lambda: _all(otlp_receiver), flushed, timeout_s=30)
    idle = [span for span in received if window_start <= span.start_ns <= window_end]
    per_second = len(idle) / ((window_end - window_start) / 1e9)
    assert per_second < 5, f"{len(idle)} spans while idle: {sorted({(s.service, s.name) for s in idle})}"


async def _trace(receiver: OtlpReceiver, trace_id: str) -> list[ReceivedSpan]:
    return receiver.trace(trace_id)


async def _all(receiver: OtlpReceiver) -> list[ReceivedSpan]:
    return receiver.snapshot()
