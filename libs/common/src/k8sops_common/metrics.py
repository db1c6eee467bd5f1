"""Prometheus metrics: HTTP request rates and latencies per route, and the `/metrics` endpoint."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

HTTP_REQUESTS = Counter("k8sops_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("k8sops_http_request_seconds", "HTTP request latency", ["service", "method", "route"])


def install_metrics(app: FastAPI, service_name: str) -> None:
    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # The route template, never the raw path, so ids do not explode the label set.
        template = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(service_name, request.method, template, response.status_code).inc()
        HTTP_LATENCY.labels(service_name, request.method, template).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
