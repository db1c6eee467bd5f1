"""Every answer is counted by route template and status, whatever produced it."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from k8sops_common.errors import ProblemError, install_problem_handlers
from k8sops_common.metrics import install_metrics


def counted(service: str, route: str, status: int) -> float:
    labels = {"service": service, "method": "GET", "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("k8sops_http_requests_total", labels) or 0.0


async def test_answers_are_counted_by_route_template_and_status() -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    app = FastAPI()
    install_problem_handlers(app)
    install_metrics(app, service)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        if thing_id == "missing":
            raise ProblemError(404, "Not found", "no such thing")
        if thing_id == "broken":
            raise RuntimeError("a bug")
        return {"id": thing_id}

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        assert (await client.get("/things/a")).status_code == 200
        assert (await client.get("/things/b")).status_code == 200
        assert (await client.get("/things/missing")).status_code == 404
        assert (await client.get("/things/broken")).status_code == 500
        assert (await client.get("/nowhere")).status_code == 404
    assert counted(service, "/things/{thing_id}", 200) == 2
    assert counted(service, "/things/{thing_id}", 404) == 1
    assert counted(service, "/things/{thing_id}", 500) == 1
    assert counted(service, "unmatched", 404) == 1
    latency = {"service": service, "method": "GET", "route": "/things/{thing_id}"}
    assert REGISTRY.get_sample_value("k8sops_http_request_seconds_count", latency) == 4
