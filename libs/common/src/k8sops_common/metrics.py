"""Prometheus metrics: HTTP request rates and latencies per route, and the `/metrics` endpoint."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter("k8sops_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("k8sops_http_request_seconds", "HTTP request latency", ["service", "method", "route"])


class HttpMetrics:
    """Counts each response by route template and status and times it.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's `BaseHTTPMiddleware` runs the
    app in a task of its own and streams the response through memory channels, a large share of a
    request's CPU for two numbers."""

    def __init__(self, app: ASGIApp, service_name: str) -> None:
        self.app = app
        self.service_name = service_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client is told if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The route template (the router notes it in the scope), never the raw path, so ids do
            # not explode the label set.
            template = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service_name, scope["method"], template, status).inc()
            HTTP_LATENCY.labels(self.service_name, scope["method"], template).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI, service_name: str) -> None:
    app.add_middleware(HttpMetrics, service_name=service_name)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
