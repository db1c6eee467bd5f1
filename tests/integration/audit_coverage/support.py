"""Every state-changing route of every service, called for real, must leave an audit event.

A route is state-changing when its OpenAPI operation is POST, PUT, PATCH or DELETE. Each one needs
an example in `examples.py`: a setup (which may call other routes) that returns the call to check.
The test fails for a route without an example, and for an example whose call answers 2xx without
adding an `audit.event` row to the service's outbox in the same transaction.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI

from k8sops_common.auth import mint_token
from k8sops_common.service import ServiceDefinition
from k8sops_common.settings import DEV_JWT_SECRET
from k8sops_platform.services import SERVICES

STATE_CHANGING = frozenset({"post", "put", "patch", "delete"})


def definition_of(service: str) -> ServiceDefinition:
    module = importlib.import_module(f"k8sops_{service.replace('-', '_')}.app")
    definition: ServiceDefinition = module.DEFINITION
    return definition


def state_changing_operations(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in STATE_CHANGING
    }


def routes_only(definition: ServiceDefinition) -> FastAPI:
    """The service's routers without `create_app`, which would instrument httpx for the whole process."""
    app = FastAPI()
    for router in definition.routers:
        app.include_router(router)
    return app


ALL_OPERATIONS: set[tuple[str, str, str]] = {
    (spec.name, method, path)
    for spec in SERVICES
    for method, path in state_changing_operations(routes_only(definition_of(spec.name)))
}


def bearer(roles: list[str], engagements: list[str], sub: str = "someone@example") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(DEV_JWT_SECRET, sub=sub, roles=roles, engagements=engagements)}"}


@dataclass
class World:
    """One service running in-process against this test's schema, plus what examples share."""

    service: str
    client: httpx.AsyncClient
    isolation: object
    notes: dict[str, object] = field(default_factory=dict)

    def headers(self, *roles: str, engagements: tuple[str, ...] = ("eng-cov",)) -> dict[str, str]:
        return bearer(list(roles), list(engagements))

    async def audit_events_in_outbox(self) -> int:
        schema = self.isolation.schema_for(self.service)  # type: ignore[attr-defined]
        rows = await self.isolation.fetch(  # type: ignore[attr-defined]
            f"SELECT count(*) AS n FROM {schema}.outbox WHERE topic LIKE '%audit.event'"
        )
        return int(rows[0]["n"])


Call = Callable[[], Awaitable[httpx.Response]]
Example = Callable[[World], Awaitable[Call]]
