"""What the service kit guarantees every endpoint: the transaction commits before the response,
bodies are bounded even when chunked, and NUL or out-of-range input never reaches PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from .conftest import OWN, SENIOR, Intake, build_intake, engagement_body, token

PROBLEM = "application/problem+json"


async def test_a_failed_commit_answers_an_error_and_a_committed_write_is_readable_at_once(isolation: Any) -> None:
    intake = await build_intake(isolation)
    # Like a real server: an error after the response started is not raised into the client.
    transport = httpx.ASGITransport(app=intake.app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://intake.test")
    ids = [f"eng-read-{index}" for index in range(5)]
    senior = token(["k8s-ops.senior"], [*ids, "eng-never"], sub="senior@provider.example")
    try:
        for engagement_id in ids:
            created = await client.post("/v1/engagements", json=engagement_body(engagement_id), headers=senior)
            assert created.status_code == 201, created.text
            read = await client.get(f"/v1/engagements/{engagement_id}", headers=senior)
            assert read.status_code == 200, read.text

        # A constraint checked only at COMMIT: the insert succeeds, the commit fails.
        schema = intake.schema
        await isolation.fetch(
            f"CREATE FUNCTION {schema}.refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"
        )
        await isolation.fetch(
            f"CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON {schema}.engagements "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_at_commit()"
        )
        failed = await client.post("/v1/engagements", json=engagement_body("eng-never"), headers=senior)
        assert failed.status_code >= 500 and failed.headers["content-type"] == PROBLEM, failed.text
        assert await intake.rows("engagements", "id = $1", "eng-never") == []
    finally:
        await client.aclose()
        await intake.client.aclose()
        await intake.app.state.context.database.dispose()


async def test_a_chunked_body_is_cut_off_at_the_limit(intake: Intake) -> None:
    sent = 0

    async def ten_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        chunk = b" " * 65536
        for _ in range(160):
            sent += len(chunk)
            yield chunk

    response = await intake.client.post(
        "/v1/engagements", content=ten_megabytes(), headers={**SENIOR, "content-type": "application/json"}
    )
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM, response.text
    assert "262144 bytes" in response.json()["detail"]
    assert sent < 1024 * 1024, f"the service read {sent} bytes of a body over its limit"


async def test_nul_in_the_url_and_strict_integers_in_bodies(intake: Intake) -> None:
    await intake.setup_engagement(OWN, with_clusters=False)
    nul = await intake.client.get("/v1/requests", params={"engagement_id": "a\x00b"}, headers=SENIOR)
    assert nul.status_code in (400, 422) and nul.headers["content-type"] == PROBLEM, nul.text
    window = {"weekday": True, "start_local": "02:00", "duration_minutes": 60}
    body = engagement_body(OWN, maintenance_window=window)
    refused = await intake.client.post("/v1/engagements", json=body, headers=SENIOR)
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM, refused.text
