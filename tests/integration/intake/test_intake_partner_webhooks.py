"""Inbound partner webhooks, signed with the reference `standardwebhooks` library."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks import Webhook

from .conftest import ADMIN, OWN, Intake


def ticket_event(ticket_id: str = "JIRA-101", event: str = "ticket.created", **ticket: Any) -> bytes:
    body = {
        "event": event,
        "ticket": {
            "id": ticket_id,
            "title": "Nodes NotReady in prod",
            "category": "workload-issue",
            "priority": "P2",
            "cluster_id": f"{OWN}-prod",
            **ticket,
        },
    }
    return json.dumps(body).encode()


def signed(secret: str, body: bytes, *, message_id: str | None = None, at: datetime | None = None) -> dict[str, str]:
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
        "content-type": "application/json",
    }


async def register_partner(intake: Intake) -> tuple[str, str]:
    await intake.setup_engagement()
    response = await intake.client.post(
        f"/v1/engagements/{OWN}/partners", json={"id": "acme-jira", "name": "ACME Jira"}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    assert response.json()["secret"].startswith("whsec_")
    listed = await intake.client.get(f"/v1/engagements/{OWN}/partners", headers=ADMIN)
    assert "secret" not in listed.json()[0]
    return response.json()["webhook_path"], response.json()["secret"]


async def stored(intake: Intake) -> tuple[int, int, int]:
    return (await intake.count("requests"), await intake.count("partner_messages"), await intake.count("outbox"))


async def test_a_signed_ticket_becomes_one_request_however_often_it_is_delivered(intake: Intake) -> None:
    path, secret = await register_partner(intake)
    body = ticket_event()
    first = await intake.client.post(path, content=body, headers=signed(secret, body))
    assert first.status_code == 201, first.text
    request_id = first.json()["request_id"]
    request = (await intake.rows("requests"))[0]
    assert (request["origin"], request["partner_ticket_id"], request["opened_by"]) == (
        "partner",
        "JIRA-101",
        "partner:acme-jira",
    )
    (opened,) = await intake.events("request.opened")
    assert opened["data"]["origin"] == "partner" and opened["data"]["request_id"] == request_id

    # The partner redelivers the ticket as a new message: no second request, nothing changes.
    redelivered = await intake.client.post(path, content=body, headers=signed(secret, body))
    assert redelivered.status_code == 200 and redelivered.json() == {
        "request_id": request_id,
        "created": False,
        "status": "opened",
    }
    assert await intake.count("requests") == 1 and await intake.events("request.updated") == []

    raised = ticket_event(event="ticket.updated", priority="P1")
    updated = await intake.client.post(path, content=raised, headers=signed(secret, raised))
    assert updated.status_code == 200
    (change,) = [event["data"] for event in await intake.events("request.updated")]
    assert (change["change"], change["priority"], change["changed_by"]) == (
        "priority_changed",
        "P1",
        "partner:acme-jira",
    )

    cancelled = ticket_event(event="ticket.updated", priority="P1", status="cancelled")
    response = await intake.client.post(path, content=cancelled, headers=signed(secret, cancelled))
    assert response.json()["status"] == "cancelled"


async def test_forged_stale_replayed_malformed_and_unknown_are_each_refused_distinctly(intake: Intake) -> None:
    path, secret = await register_partner(intake)
    body = ticket_event()
    accepted_headers = signed(secret, body)
    assert (await intake.client.post(path, content=body, headers=accepted_headers)).status_code == 201
    before = await stored(intake)

    other_secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    tampered = body.replace(b"P2", b"P1")
    old = datetime.now(UTC) - timedelta(minutes=6)
    malformed = b'{"event": "ticket.created", "ticket": {"id": "J-2"}}'
    cases = {
        "forged": (path, body, signed(other_secret, body)),
        "tampered": (path, tampered, {**signed(secret, body), "content-type": "application/json"}),
        "stale": (path, body, signed(secret, body, at=old)),
        "future": (path, body, signed(secret, body, at=datetime.now(UTC) + timedelta(minutes=6))),
        "replayed": (path, body, accepted_headers),
        "unsigned": (path, body, {"content-type": "application/json"}),
        "malformed": (path, malformed, signed(secret, malformed)),
        "not json": (path, b"<xml/>", signed(secret, b"<xml/>")),
        "unknown partner": ("/v1/partners/nobody/webhooks", body, signed(secret, body)),
    }
    expected = {
        "forged": (401, "webhook-signature-invalid"),
        "tampered": (401, "webhook-signature-invalid"),
        "stale": (401, "webhook-timestamp-stale"),
        "future": (401, "webhook-timestamp-stale"),
        "replayed": (409, "webhook-replayed"),
        "unsigned": (401, "webhook-headers-missing"),
        "malformed": (422, "webhook-body-malformed"),
        "not json": (422, "webhook-body-malformed"),
        "unknown partner": (404, "unknown-partner"),
    }
    outcomes = {}
    for name, (url, content, headers) in cases.items():
        response = await intake.client.post(url, content=content, headers=headers)
        assert response.headers["content-type"] == "application/problem+json", name
        outcomes[name] = (response.status_code, response.json()["type"].rsplit("/", 1)[-1])
    assert outcomes == expected
    assert await stored(intake) == before


async def test_a_ticket_for_a_cluster_of_another_engagement_is_refused_and_nothing_is_kept(intake: Intake) -> None:
    path, secret = await register_partner(intake)
    await intake.setup_engagement("eng-other")
    before = await stored(intake)
    body = ticket_event(cluster_id="eng-other-prod")
    response = await intake.client.post(path, content=body, headers=signed(secret, body))
    assert response.status_code == 422 and response.json()["type"].endswith("/webhook-body-malformed")
    assert await stored(intake) == before
