"""Bad input on every endpoint that takes a body: a 4xx problem+json, and nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ADMIN, OPERATOR, OWN, REQUESTER, SENIOR, Intake, cluster_body, engagement_body

TABLES = ("engagements", "clusters", "requests", "request_comments", "disputes", "dispute_entries", "partners",
          "webhook_endpoints", "outbox", "idempotency_keys")  # fmt: skip


def bad_variants(valid: dict[str, Any], enum_field: str | None, id_field: str | None) -> dict[str, Any]:
    variants: dict[str, Any] = {
        "not an object": [valid],
        "unknown field": {**valid, "surprise": True},
        "wrong type": {key: ["x"] for key in valid},
        "nul in text": {key: ("a\x00b" if isinstance(value, str) else value) for key, value in valid.items()},
        "oversize": {**valid, next(iter(valid)): "x" * 300_000},
    }
    if enum_field:
        variants["bad enum"] = {**valid, enum_field: "P9-not-an-enum"}
    if id_field:
        variants["bad id"] = {**valid, id_field: "../etc/passwd"}
    return variants


ENDPOINTS = {
    "engagement": ("POST", "/v1/engagements", SENIOR, engagement_body("eng-new"), "tier", "id"),
    "change engagement": ("PATCH", f"/v1/engagements/{OWN}", ADMIN, {"timezone": "UTC"}, "tier", None),
    "cluster": ("POST", f"/v1/engagements/{OWN}/clusters", ADMIN, cluster_body("c-new", "non-prod"), "size_band", "id"),
    "change cluster": (
        "PATCH", f"/v1/engagements/{OWN}/clusters/{OWN}-prod", ADMIN, {"size_band": "L"}, "size_band", None,
    ),
    "request": (
        "POST", "/v1/requests", REQUESTER,
        {"engagement_id": OWN, "category": "incident", "priority": "P1", "title": "t"}, "priority", "engagement_id",
    ),
    "dispute": (
        "POST", "/v1/disputes", REQUESTER,
        {"engagement_id": OWN, "subject_kind": "recommendation", "subject_id": "r1", "summary": "s"},
        "subject_kind", "subject_id",
    ),
    "partner": ("POST", f"/v1/engagements/{OWN}/partners", ADMIN, {"id": "p1", "name": "Jira"}, None, "id"),
    "webhook": (
        "POST", f"/v1/engagements/{OWN}/webhooks", ADMIN,
        {"url": "https://hooks.example/x", "event_types": ["sla.breached"]}, None, None,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", ENDPOINTS)
async def test_bad_bodies_get_a_problem_and_store_nothing(intake: Intake, name: str) -> None:
    await intake.setup_engagement()
    method, path, headers, valid, enum_field, id_field = ENDPOINTS[name]
    before = {table: await intake.count(table) for table in TABLES}
    for variant, body in bad_variants(valid, enum_field, id_field).items():
        response = await intake.client.request(method, path, json=body, headers=headers)
        assert 400 <= response.status_code < 500, (name, variant, response.status_code)
        assert response.headers["content-type"] == "application/problem+json", (name, variant)
        assert response.json()["detail"], (name, variant)
    broken = await intake.client.request(
        method, path, content=b"{not json", headers={**headers, "content-type": "application/json"}
    )
    assert broken.status_code == 422 and broken.headers["content-type"] == "application/problem+json"
    assert {table: await intake.count(table) for table in TABLES} == before


async def test_bad_ids_and_query_values_are_refused_not_looked_up(intake: Intake) -> None:
    await intake.setup_engagement()
    request = await intake.open_request()
    for path, params in (
        ("/v1/requests/bad id!", None),
        (f"/v1/engagements/{'x' * 100}", None),
        ("/v1/requests", {"priority": "P0"}),
        ("/v1/requests", {"status": "lost"}),
        ("/v1/requests", {"limit": 0}),
        ("/v1/requests", {"limit": 10_000}),
        ("/v1/requests", {"opened_from": "yesterday"}),
    ):
        response = await intake.client.get(path, params=params, headers=OPERATOR)
        assert response.status_code in (404, 422), (path, params)
        assert response.headers["content-type"] == "application/problem+json"
    for body in ({"action": "teleport"}, {"action": "decline", "reason": "x" * 5000}, {}):
        response = await intake.client.post(f"/v1/requests/{request['id']}/transitions", json=body, headers=OPERATOR)
        assert response.status_code == 422, body
    assert (await intake.client.get(f"/v1/requests/{request['id']}", headers=OPERATOR)).json()["status"] == "opened"
