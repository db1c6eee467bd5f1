"""`/docs` renders Swagger UI with the network cut: its files come from a wheel, not a CDN.

A real headless Chromium loads a service's `/docs` over HTTP with every host but 127.0.0.1
unresolvable, runs the page's JavaScript and must show the service's operations.
"""

from __future__ import annotations

import asyncio

import uvicorn

from k8sops_common.service import create_app
from k8sops_intake.app import DEFINITION
from k8sops_platform.embedded import free_port
from tests.support.browser import chromium, dump_dom  # noqa: F401 - the fixture

# Every other host fails to resolve, as on a machine without a network.
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--virtual-time-budget=15000")


async def test_docs_render_without_the_network(isolation, chromium: str, eventually) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    app = create_app(DEFINITION, await isolation.settings("intake"))
    port = free_port()
    # No lifespan: the page and the OpenAPI document need neither the database nor the broker.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(_started(server), bool)
        dom = await dump_dom(chromium, f"http://127.0.0.1:{port}/docs", extra_args=OFFLINE)
    finally:
        server.should_exit = True
        await serving
    assert "cdn.jsdelivr.net" not in dom
    assert 'class="swagger-ui' in dom, dom[:2000]
    assert "opblock" in dom and "/v1/requests" in dom, "the operations are listed"
    assert "Failed to load API definition" not in dom


def _started(server: uvicorn.Server):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return server.started

    return check
