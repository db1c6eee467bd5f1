"""Audit reads over HTTP: scoped by engagement, filtered, paged, exported, verified."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from k8sops_audit import repository
from k8sops_audit.app import DEFINITION
from k8sops_audit.domain.chain import chain_entries
from k8sops_audit.domain.entry import Actor, AuditEntry, Outcome, Target
from k8sops_common.auth import mint_token
from k8sops_common.db import Database, engine_from_settings
from k8sops_common.service import create_app
from k8sops_common.settings import DEV_JWT_SECRET

from .test_audit_storage import entry


def bearer(roles: list[str], engagements: list[str]) -> dict[str, str]:
    token = mint_token(DEV_JWT_SECRET, sub="someone", roles=roles, engagements=engagements)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(isolation) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    settings = await isolation.settings("audit", "k8sops_audit.migrations")
    database = Database(engine_from_settings(settings))
    entries: list[AuditEntry] = []
    for sequence in range(1, 31):
        # eng-a gets 1, 4, 7…; eng-b 2, 5, 8…; every third entry is provider-level (no engagement).
        engagement = ("eng-a", "eng-b", None)[(sequence - 1) % 3]
        base = entry(sequence, engagement or "x")
        entries.append(
            AuditEntry(
                **{
                    **{field: getattr(base, field) for field in base.__dataclass_fields__},
                    "engagement_id": engagement,
                    "actor": Actor(sub=f"actor-{sequence % 2}", roles=("k8s-ops.operator",)),
                    "target": Target(kind="Node", name=f"node-{sequence}", cluster="prod-1"),
                    "outcome": Outcome.SUCCESS,
                }
            )
        )
    async with database.unit_of_work() as session:
        head = await repository.lock_chain_head(session)
        await repository.append_entries(session, chain_entries(head, entries))
    await database.dispose()
    app = create_app(DEFINITION, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit") as http:
        yield http
    await app.state.context.database.dispose()


async def engagements_seen(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> set[str | None]:
    response = await client.get("/v1/audit/entries", params={"limit": "1000", **params}, headers=headers)
    assert response.status_code == 200, response.text
    return {item["engagement_id"] for item in response.json()["items"]}


async def test_nobody_reads_another_engagements_entries(client: httpx.AsyncClient) -> None:
    viewer_a = bearer(["k8s-ops.viewer"], ["eng-a"])
    operator_b = bearer(["k8s-ops.operator"], ["eng-b"])
    auditor = bearer(["k8s-ops.auditor"], [])
    assert await engagements_seen(client, viewer_a) == {"eng-a"}
    assert await engagements_seen(client, viewer_a, engagement_id="eng-b") == set()
    assert await engagements_seen(client, operator_b) == {"eng-b"}
    assert await engagements_seen(client, auditor) == {"eng-a", "eng-b", None}

    export = await client.get("/v1/audit/export", headers=viewer_a, params={"engagement_id": "eng-b"})
    assert export.status_code == 200 and export.text == ""
    export = await client.get("/v1/audit/export", headers=viewer_a)
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert len(lines) == 10 and {line["engagement_id"] for line in lines} == {"eng-a"}


async def test_pages_follow_the_cursor_in_sequence_order(client: httpx.AsyncClient) -> None:
    auditor = bearer(["k8s-ops.auditor"], [])
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/audit/entries", params=params, headers=auditor)).json()
        seen += [item["seq"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, 31))


async def test_filters_combine(client: httpx.AsyncClient) -> None:
    auditor = bearer(["k8s-ops.auditor"], [])
    page = await client.get("/v1/audit/entries", params={"actor": "actor-1", "engagement_id": "eng-a"}, headers=auditor)
    sequences = [item["seq"] for item in page.json()["items"]]
    assert sequences == [sequence for sequence in range(1, 31) if sequence % 2 == 1 and sequence % 3 == 1]


@pytest.mark.parametrize(
    "params",
    [{"cursor": "not-a-cursor"}, {"limit": "0"}, {"trace_id": "XYZ"}, {"since": "2026-11-26T10:00:00"}],
)
async def test_bad_queries_are_problems(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.get("/v1/audit/entries", params=params, headers=bearer(["k8s-ops.auditor"], []))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_verification_is_for_provider_roles_and_the_chain_is_intact(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/audit/verify", headers=bearer(["k8s-ops.admin"], ["eng-a"]))).status_code == 403
    report = (await client.get("/v1/audit/verify", headers=bearer(["k8s-ops.auditor"], []))).json()
    assert report["ok"] and report["entries_verified"] == 30
    ranged = (await client.get("/v1/audit/verify?from=10&to=20", headers=bearer(["k8s-ops.operator"], []))).json()
    assert ranged["ok"] and ranged["entries_verified"] == 11
    assert (
        await client.get("/v1/audit/verify?from=20&to=10", headers=bearer(["k8s-ops.auditor"], []))
    ).status_code == 422
