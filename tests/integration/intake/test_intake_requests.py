"""Requests: scope checks on create, lifecycle, comments, listing, scope creep and disputes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from .conftest import ADMIN, OPERATOR, OWN, REQUESTER, SENIOR, VIEWER, Intake, token


async def transition(intake: Intake, request_id: str, headers: dict[str, str], action: str, **extra: Any) -> Any:
    return await intake.client.post(
        f"/v1/requests/{request_id}/transitions", json={"action": action, **extra}, headers=headers
    )


async def test_a_request_needs_an_existing_engagement_and_a_cluster_of_it(intake: Intake) -> None:
    body = {"engagement_id": OWN, "category": "incident", "priority": "P1", "title": "API down"}
    missing = await intake.client.post("/v1/requests", json=body, headers=REQUESTER)
    assert missing.status_code == 422 and missing.json()["type"].endswith("/unknown-engagement")
    await intake.setup_engagement()
    await intake.setup_engagement("eng-other")
    foreign_cluster = await intake.client.post(
        "/v1/requests", json={**body, "cluster_id": "eng-other-prod"}, headers=REQUESTER
    )
    assert foreign_cluster.status_code == 422 and foreign_cluster.json()["type"].endswith("/unknown-cluster")
    assert await intake.count("requests") == 0 and await intake.events("request.opened") == []


async def test_the_lifecycle_runs_from_opened_to_closed_with_an_event_and_audit_at_every_step(intake: Intake) -> None:
    await intake.setup_engagement()
    request = await intake.open_request()
    request_id = request["id"]

    early = await transition(intake, request_id, OPERATOR, "start")
    assert early.status_code == 409 and "acknowledged" in early.json()["detail"]
    by_customer = await transition(intake, request_id, REQUESTER, "acknowledge")
    assert by_customer.status_code == 409 and "provider side" in by_customer.json()["detail"]

    acknowledged = await transition(intake, request_id, OPERATOR, "acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["acknowledged_by"] == "operator@provider.example"
    for action in ("start", "wait_on_customer"):
        assert (await transition(intake, request_id, OPERATOR, action)).status_code == 200
    answer = await intake.client.post(
        f"/v1/requests/{request_id}/comments", json={"body": "Logs attached"}, headers=REQUESTER
    )
    assert answer.status_code == 201
    assert (await intake.client.get(f"/v1/requests/{request_id}", headers=VIEWER)).json()["status"] == "in_progress"
    assert (await transition(intake, request_id, OPERATOR, "resolve")).status_code == 200
    closed = await transition(intake, request_id, REQUESTER, "close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    final = await transition(intake, request_id, REQUESTER, "cancel")
    assert final.status_code == 409 and "final status" in final.json()["detail"]

    updates = [event["data"] for event in await intake.events("request.updated")]
    assert [(u["change"], u["status"]) for u in updates] == [
        ("acknowledged", "acknowledged"),
        ("status_changed", "in_progress"),
        ("status_changed", "waiting_on_customer"),
        ("commented", "waiting_on_customer"),
        ("status_changed", "in_progress"),
        ("status_changed", "resolved"),
        ("status_changed", "closed"),
    ]
    assert all(event["subject"] == request_id for event in await intake.events("request.updated"))
    actions = [
        json.loads(row["payload"])["data"]["action"]
        for row in await intake.rows("outbox", "topic LIKE '%audit.event' ORDER BY id")
    ]
    assert actions[-8:] == [
        "request.open",
        "request.acknowledge",
        "request.start",
        "request.wait_on_customer",
        "request.comment",
        "request.resume",
        "request.resolve",
        "request.close",
    ]


async def test_priority_changes_are_published_with_the_previous_priority(intake: Intake) -> None:
    await intake.setup_engagement()
    request = await intake.open_request(priority="P3")
    changed = await intake.client.patch(f"/v1/requests/{request['id']}", json={"priority": "P1"}, headers=REQUESTER)
    assert changed.status_code == 200 and changed.json()["priority"] == "P1"
    (update,) = [event["data"] for event in await intake.events("request.updated")]
    assert (update["change"], update["priority"], update["previous_priority"]) == ("priority_changed", "P1", "P3")


async def test_the_same_idempotency_key_opens_one_request_and_a_different_body_is_refused(intake: Intake) -> None:
    await intake.setup_engagement()
    body = {"engagement_id": OWN, "category": "incident", "priority": "P1", "title": "API down"}
    headers = {**REQUESTER, "Idempotency-Key": "ticket-42"}
    first = await intake.client.post("/v1/requests", json=body, headers=headers)
    again = await intake.client.post("/v1/requests", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    other = await intake.client.post("/v1/requests", json={**body, "title": "DB down"}, headers=headers)
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    comment_headers = {**REQUESTER, "Idempotency-Key": "comment-1"}
    url = f"/v1/requests/{first.json()['id']}/comments"
    one = await intake.client.post(url, json={"body": "hi"}, headers=comment_headers)
    two = await intake.client.post(url, json={"body": "hi"}, headers=comment_headers)
    assert (one.status_code, two.status_code) == (201, 200) and one.json() == two.json()
    assert await intake.count("requests") == 1 and await intake.count("request_comments") == 1


async def test_listing_filters_and_pages_through_every_request_once(intake: Intake) -> None:
    await intake.setup_engagement()
    opened = [await intake.open_request(priority="P1" if n % 2 else "P3", title=f"r{n}") for n in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"engagement_id": OWN, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await intake.client.get("/v1/requests", params=params, headers=VIEWER)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [request["id"] for request in reversed(opened)]

    p1 = (await intake.client.get("/v1/requests", params={"priority": "P1"}, headers=VIEWER)).json()["items"]
    assert {item["id"] for item in p1} == {request["id"] for request in opened[1::2]}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = await intake.client.get("/v1/requests", params={"opened_from": future}, headers=VIEWER)
    assert later.json()["items"] == []
    status_filter = await intake.client.get("/v1/requests", params={"status": "acknowledged"}, headers=VIEWER)
    assert status_filter.json()["items"] == []
    bad_cursor = await intake.client.get("/v1/requests", params={"cursor": "not-a-cursor"}, headers=VIEWER)
    assert bad_cursor.status_code == 422 and bad_cursor.json()["type"].endswith("/invalid-cursor")
    naive = await intake.client.get("/v1/requests", params={"opened_from": "2025-01-01T00:00:00"}, headers=VIEWER)
    assert naive.status_code == 422
    stranger = token(["k8s-ops.viewer"], ["eng-other"])
    assert (await intake.client.get("/v1/requests", headers=stranger)).json()["items"] == []


async def test_out_of_scope_asks_are_declined_with_a_pointer_and_reported(intake: Intake) -> None:
    await intake.setup_engagement()
    by_category = await intake.open_request(category="helm-chart-authoring", title="Charts for our apps")
    by_words = await intake.open_request(title="Please debug our application code, NPE in checkout")
    in_scope = await intake.open_request(title="Pods Pending after node pool resize")
    assert by_category["status"] == "declined" and "Professional Services" in by_category["decline_pointer"]
    assert by_words["status"] == "declined" and "consulting" in by_words["decline_pointer"]
    assert in_scope["status"] == "opened"
    # Declined asks start no SLA clock: only the in-scope one is opened on the bus.
    assert [e["data"]["request_id"] for e in await intake.events("request.opened")] == [in_scope["id"]]

    declined = await transition(intake, in_scope["id"], OPERATOR, "decline", reason="This is a redesign in disguise")
    assert declined.status_code == 200 and declined.json()["decline_reason"] == "This is a redesign in disguise"
    no_reason = await transition(intake, (await intake.open_request(title="x"))["id"], OPERATOR, "decline")
    assert no_reason.status_code == 409 and "needs a reason" in no_reason.json()["detail"]

    report = (await intake.client.get(f"/v1/engagements/{OWN}/scope-creep", headers=VIEWER)).json()
    assert report["total"] == 3
    assert report["by_kind"] == {"helm-chart-authoring": 1, "application-debugging": 1, "operator-judgement": 1}
    assert {record["declined_by"] for record in report["records"]} == {
        "intake:scope-rules",
        "operator@provider.example",
    }


async def test_a_dispute_keeps_both_positions_the_senior_and_the_decision_as_history(intake: Intake) -> None:
    await intake.setup_engagement()
    request = await intake.open_request()
    opened = await intake.client.post(
        "/v1/disputes",
        json={"engagement_id": OWN, "subject_kind": "request", "subject_id": request["id"], "summary": "App or node?"},
        headers=OPERATOR,
    )
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    url = f"/v1/disputes/{dispute_id}/entries"

    async def add(headers: dict[str, str], kind: str, text: str) -> Any:
        return await intake.client.post(url, json={"kind": kind, "text": text}, headers=headers)

    early = await add(ADMIN, "decision", "Accept")
    assert early.status_code == 409 and "customer_position" in early.json()["detail"]
    assert (await add(OPERATOR, "customer_position", "x")).status_code == 403
    assert (await add(REQUESTER, "customer_position", "Our app did not change")).status_code == 200
    assert (await add(OPERATOR, "provider_position", "CD says app issue: OOM in app container")).status_code == 200
    assert (await add(OPERATOR, "nonprod_test", "Reproduced on staging with the same image")).status_code == 200
    assert (await add(OPERATOR, "senior_engaged", "me")).status_code == 403
    assert (await add(SENIOR, "senior_engaged", "Reviewed heap dumps with the customer")).status_code == 200
    assert (await add(REQUESTER, "decision", "x")).status_code == 403
    decided = await add(ADMIN, "decision", "Agreed: application memory leak, we fix it")
    assert decided.status_code == 200 and decided.json()["status"] == "decided"
    assert [entry["kind"] for entry in decided.json()["history"]] == [
        "customer_position",
        "provider_position",
        "nonprod_test",
        "senior_engaged",
        "decision",
    ]
    assert (await add(REQUESTER, "customer_position", "again")).status_code == 409

    recurrence = await intake.client.post(
        "/v1/disputes",
        json={"engagement_id": OWN, "subject_kind": "request", "subject_id": request["id"], "summary": "Again"},
        headers=REQUESTER,
    )
    assert recurrence.json()["earlier_disputes"] == [dispute_id]
