"""Every malformed audit query answers a 4xx problem naming the parameter, never a 500."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from k8sops_common.settings import DEV_JWT_SECRET

from .test_audit_api import bearer, client  # noqa: F401 - the fixture

PROBLEM = "application/problem+json"
TOO_BIG = str(2**63)


@pytest.mark.parametrize(
    "path, params",
    [
        ("/v1/audit/checkpoints", {"after": TOO_BIG}),
        ("/v1/audit/verify", {"to": TOO_BIG}),
        ("/v1/audit/verify", {"from": TOO_BIG}),
        ("/v1/audit/entries", {"target_name": "a\x00b"}),
        ("/v1/audit/entries", {"actor": "a\x00b"}),
        ("/v1/audit/entries", {"action": "a\x00b"}),
        ("/v1/audit/entries", {"target_kind": "a\x00b"}),
        ("/v1/audit/entries", {"since": "0001-01-01T00:00:00+14:00"}),
        ("/v1/audit/entries", {"until": "0001-01-01T00:00:00+14:00"}),
        ("/v1/audit/export", {"actor": "a\x00"}),
        ("/v1/audit/export", {"until": "0001-01-01T00:00:00+14:00"}),
    ],
)
async def test_out_of_range_and_nul_parameters_are_refused(
    client: httpx.AsyncClient,  # noqa: F811
    path: str,
    params: dict[str, str],
) -> None:
    response = await client.get(path, params=params, headers=bearer(["k8s-ops.auditor"], []))
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("roles", [[{"role": "k8s-ops.auditor"}], [["k8s-ops.auditor"]], {"k8s-ops.auditor": True}])
async def test_a_signed_token_with_roles_of_the_wrong_shape_is_refused(
    client: httpx.AsyncClient,  # noqa: F811
    roles: object,
) -> None:
    token = jwt.encode({"sub": "x", "roles": roles, "exp": int(time.time()) + 600}, DEV_JWT_SECRET)
    response = await client.get("/v1/audit/entries", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.headers["content-type"] == PROBLEM, response.text
