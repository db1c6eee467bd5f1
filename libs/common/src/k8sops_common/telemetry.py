"""OpenTelemetry traces (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set) and JSON logs with trace ids.

Kafka spans are made by the bus itself (`bus/spans.py`: the relay's producer span parented on the
`traceparent` the outbox captured when the event was written, a consumer span per handled event);
the aiokafka auto-instrumentation is not used because it would stamp the relay's context over the
one captured at write time.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def setup_tracing(service_name: str, otlp_endpoint: str | None) -> None:
    """Spans go to OTLP when an endpoint is set. Without one nothing could ever read a span, so
    new traces are not recorded (half of a consumed event's CPU went to recording spans): their
    spans still carry fresh trace and span ids for logs, `traceresponse` and the outbox's
    `traceparent`, flagged not sampled; a caller's sampled trace is still followed."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return  # already set up in this process
    provider = tracer_provider(service_name, otlp_endpoint)
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces"))
        )
    trace.set_tracer_provider(provider)


def tracer_provider(service_name: str, otlp_endpoint: str | None) -> TracerProvider:
    sampler = ParentBased(ALWAYS_ON if otlp_endpoint else ALWAYS_OFF)
    return TracerProvider(resource=Resource.create({"service.name": service_name}), sampler=sampler)


class TraceResponseHeaders:
    """Returns the request's trace id (`traceresponse`, W3C Trace Context level 2, and `X-Trace-Id`),
    so a caller can open the trace in Jaeger."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        span_context = trace.get_current_span().get_span_context()
        if scope["type"] != "http" or not span_context.is_valid:
            await self.app(scope, receive, send)
            return
        trace_id = format(span_context.trace_id, "032x")
        traceresponse = f"00-{trace_id}-{span_context.span_id:016x}-{span_context.trace_flags:02x}"

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["traceresponse"] = traceresponse
                headers["X-Trace-Id"] = trace_id
            await send(message)

        await self.app(scope, receive, send_with_trace)


def instrument(app: FastAPI, engine: AsyncEngine, otlp_endpoint: str | None) -> None:
    # Inside the OpenTelemetry middleware (which wraps the whole stack), so the server span is current.
    app.add_middleware(TraceResponseHeaders)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"])
    if otlp_endpoint:
        # A span per statement is only worth its CPU (a tenth of a request's) when it can be
        # exported; the server span still carries the trace into logs and the outbox.
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine)
    HTTPXClientInstrumentor().instrument()


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, carrying the current trace and span ids."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service_name,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap and close it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def setup_logging(service_name: str, level: str) -> None:
    handler = _CurrentStderrHandler()
    handler.setFormatter(JsonLogFormatter(service_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # uvicorn's own handlers would print a second, non-JSON line for every entry.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
