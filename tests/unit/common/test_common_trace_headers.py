"""Trace context read from Kafka headers: the fast path agrees with OpenTelemetry's propagators."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.propagate import extract

from k8sops_common.bus.tracing import context_from_headers

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"


@pytest.mark.parametrize(
    "headers",
    [
        [("traceparent", f"00-{TRACE}-{SPAN}-01")],
        [("traceparent", f"00-{TRACE}-{SPAN}-00"), ("content-type", "application/cloudevents+json")],
        [("traceparent", f"00-{TRACE}-{SPAN}-01"), ("tracestate", "vendor=value")],
        [("traceparent", f"00-{TRACE}-{SPAN}-01"), ("baggage", "tenant=acme")],
        [("traceparent", f"00-{TRACE}-{SPAN}-01-extra")],
        [("traceparent", f"01-{TRACE}-{SPAN}-01-future")],
        [("traceparent", f"ff-{TRACE}-{SPAN}-01")],
        [("traceparent", f"00-{'0' * 32}-{SPAN}-01")],
        [("traceparent", f"00-{TRACE}-{'0' * 16}-01")],
        [("traceparent", f"00-{TRACE.upper()}-{SPAN}-01")],
        [("traceparent", f" 00-{TRACE}-{SPAN}-01 ")],
        [("traceparent", "garbage")],
        [],
    ],
)
def test_the_parent_read_from_headers_is_the_propagators_own(headers: list[tuple[str, str]]) -> None:
    ours = context_from_headers([(name, value.encode()) for name, value in headers])
    theirs = extract(dict(headers))
    assert trace.get_current_span(ours).get_span_context() == trace.get_current_span(theirs).get_span_context()
    assert set(ours) == set(theirs)  # the same context entries (span, baggage), nothing more
