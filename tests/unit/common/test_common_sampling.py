"""Without an OTLP endpoint spans are not recorded, yet carry real ids; a sampled caller is followed."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from k8sops_common.telemetry import tracer_provider


def test_without_an_endpoint_new_traces_are_not_recorded_but_have_ids() -> None:
    span = tracer_provider("svc", None).get_tracer("t").start_span("work")
    context = span.get_span_context()
    assert not span.is_recording()
    assert context.is_valid and not context.trace_flags.sampled


def test_without_an_endpoint_a_sampled_callers_trace_is_still_recorded() -> None:
    caller = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True, TraceFlags(1))
    parent = trace.set_span_in_context(NonRecordingSpan(caller))
    span = tracer_provider("svc", None).get_tracer("t").start_span("work", context=parent)
    assert span.is_recording() and span.get_span_context().trace_id == caller.trace_id


def test_with_an_endpoint_every_trace_is_recorded() -> None:
    span = tracer_provider("svc", "http://127.0.0.1:1").get_tracer("t").start_span("work")
    assert span.is_recording() and span.get_span_context().trace_flags.sampled
