"""sla-timer refuses loose input: a bool is not a number, and a body has a size limit even chunked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from .conftest import bearer

PROBLEM = "application/problem+json"
PATH = "/v1/sla/policies/response-targets/k8s-business/P4"


async def test_a_bool_is_not_a_budget_and_a_chunked_body_is_bounded(api: httpx.AsyncClient) -> None:
    operator = bearer(["k8s-ops.operator"], [], sub="op@provider.example")
    before = (await api.get("/v1/sla/policies", headers=operator)).json()["response_targets"]
    refused = await api.put(PATH, json={"budget_minutes": True, "clock": "wall"}, headers=operator)
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM, refused.text
    assert (await api.get("/v1/sla/policies", headers=operator)).json()["response_targets"] == before

    sent = 0

    async def ten_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(160):
            sent += 65536
            yield b" " * 65536

    response = await api.put(PATH, content=ten_megabytes(), headers={**operator, "content-type": "application/json"})
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM, response.text
    assert sent < 1024 * 1024, f"the service read {sent} bytes of a body over its limit"
