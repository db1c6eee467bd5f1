"""The audit coverage check itself (see support.py for the rules)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from k8sops_common.service import create_app

from .examples import EXAMPLES
from .support import ALL_OPERATIONS, World, definition_of


@pytest.fixture
async def world_for(isolation) -> AsyncIterator[Callable[[str], Awaitable[World]]]:  # type: ignore[no-untyped-def]
    apps: list[FastAPI] = []
    clients: list[httpx.AsyncClient] = []

    async def build(service: str) -> World:
        definition = definition_of(service)
        settings = await isolation.settings(service, definition.migrations_package)
        app = create_app(definition, settings)
        apps.append(app)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{service}")
        clients.append(client)
        return World(service, client, isolation)

    yield build
    for client in clients:
        await client.aclose()
    for app in apps:
        await app.state.context.database.dispose()


def test_every_state_changing_route_has_an_example() -> None:
    missing = sorted(ALL_OPERATIONS - set(EXAMPLES))
    assert not missing, f"state-changing routes without an audit example: {missing}"
    stale = sorted(set(EXAMPLES) - ALL_OPERATIONS)
    assert not stale, f"examples for routes that no longer exist: {stale}"


@pytest.mark.parametrize("operation", sorted(EXAMPLES), ids=lambda op: " ".join(op))
async def test_a_state_changing_route_leaves_an_audit_event(
    operation: tuple[str, str, str], world_for: Callable[[str], Awaitable[World]]
) -> None:
    service = operation[0]
    world = await world_for(service)
    call = await EXAMPLES[operation](world)
    before = await world.audit_events_in_outbox()
    response = await call()
    assert response.is_success, f"{operation}: {response.status_code} {response.text}"
    assert await world.audit_events_in_outbox() > before, f"{operation} changed state but left no audit event"
