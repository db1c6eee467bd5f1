"""Breaches → credits (per-tier share, monthly cap, billing period), breach patterns → escalation,
and the HTTP API: SLA state, breaches and credits per period, policies; scoped and problem+json."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from .conftest import SlaHarness, bearer, engagement, opened, updated

DHAKA = "Asia/Dhaka"
PROBLEM = "application/problem+json"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_credits_follow_the_tier_share_the_monthly_cap_and_the_local_month(sla: SlaHarness) -> None:
    await sla.deliver(
        engagement("eng-admin", "k8s-247-cluster-admin", DHAKA, retainers={"prod-1": "100000", "prod-2": "50000"}),
        # Due 20:15 UTC on 31 January = 02:15 on 1 February in Dhaka: the February bill.
        *[opened(f"req-{n}", "eng-admin", "P1", utc("2026-01-31T20:00:00"), cluster_id="prod-1") for n in range(1, 4)],
        opened("req-4", "eng-admin", "P1", utc("2026-01-31T20:00:00"), cluster_id="prod-2"),
    )
    fired = await sla.fire(utc("2026-02-01T00:00:00"))
    assert fired.breaches == 4

    credits = {credit["request_id"]: credit for credit in await sla.events("credit.issued")}
    breaches = {breach["request_id"]: breach for breach in await sla.events("sla.breached")}
    assert {request: credit["amount_bdt"] for request, credit in credits.items()} == {
        "req-1": "15000.00",
        "req-2": "15000.00",
        "req-3": "0.00",  # prod-1 reached its 30 % cap for February
        "req-4": "7500.00",
    }
    assert {credit["period"] for credit in credits.values()} == {"2026-02"}
    assert all(credits[request]["breach_id"] == breaches[request]["breach_id"] for request in credits)
    assert "already credited in 2026-02" in credits["req-3"]["reason"]


async def test_three_breaches_in_thirty_days_escalate_once_to_the_senior_on_call(sla: SlaHarness) -> None:
    await sla.deliver(
        engagement("eng-247", "k8s-247", DHAKA, on_call="rahman@provider.example"),
        opened("req-a", "eng-247", "P1", utc("2026-03-01T10:00:00")),
        opened("req-b", "eng-247", "P1", utc("2026-03-10T10:00:00")),
    )
    assert (await sla.fire(utc("2026-03-10T11:00:00"))).escalations == 0
    await sla.deliver(
        opened("req-c", "eng-247", "P1", utc("2026-03-20T10:00:00")),
        opened("req-d", "eng-247", "P1", utc("2026-03-21T10:00:00")),
    )
    assert (await sla.fire(utc("2026-03-20T11:00:00"))).escalations == 1
    assert (await sla.fire(utc("2026-03-21T11:00:00"))).escalations == 0  # the senior is already on it

    [escalation] = await sla.events("sla.escalated")
    assert escalation["senior_on_call"] == "rahman@provider.example"
    assert len(escalation["breach_ids"]) == 3
    audits = [event for event in await sla.events("audit.event") if event["action"] == "sla.escalate"]
    assert len(audits) == 1 and audits[0]["details"]["senior_on_call"] == "rahman@provider.example"


async def test_sla_state_of_a_request(sla: SlaHarness, api: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    await sla.deliver(
        engagement("eng-247", "k8s-247", DHAKA),
        opened("req-live", "eng-247", "P1", now - timedelta(minutes=10)),
        updated("req-live", "eng-247", status="waiting_on_customer", priority="P1", at=now - timedelta(minutes=4)),
    )
    response = await api.get("/v1/sla/requests/req-live", headers=bearer(["k8s-ops.viewer"], ["eng-247"]))
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["goal"] == {"budget_minutes": 30, "clock": "wall"}
    assert state["elapsed_seconds"] == 360  # stopped by the first response, 6 minutes in
    assert state["remaining_seconds"] == 1440
    assert (state["breached"], state["paused"], state["within_calendar"]) == (False, False, True)
    assert state["resolution"]["paused"] is True
    assert state["resolution"]["elapsed_seconds"] == 360
    deadline = datetime.fromisoformat(state["deadline"])
    assert deadline == datetime.fromisoformat(state["started_at"]) + timedelta(minutes=30)


async def test_records_outside_the_callers_engagements_are_not_found(sla: SlaHarness, api: httpx.AsyncClient) -> None:
    await sla.deliver(engagement("eng-247", "k8s-247", DHAKA), opened("req-x", "eng-247", "P1", datetime.now(UTC)))
    outsider = bearer(["k8s-ops.admin"], ["eng-other"])
    for path in (
        "/v1/sla/requests/req-x",
        "/v1/sla/requests/req-unknown",
        "/v1/sla/engagements/eng-247/breaches",
        "/v1/sla/engagements/eng-247/credits",
    ):
        response = await api.get(path, headers=outsider)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM
    anonymous = await api.get("/v1/sla/requests/req-x")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM


async def test_breaches_and_credits_per_engagement_and_period(sla: SlaHarness, api: httpx.AsyncClient) -> None:
    await sla.deliver(
        engagement("eng-247", "k8s-247", DHAKA, retainers={"prod-1": "100000"}),
        opened("req-jan", "eng-247", "P1", utc("2026-01-10T10:00:00"), cluster_id="prod-1"),
        opened("req-feb", "eng-247", "P1", utc("2026-02-10T10:00:00"), cluster_id="prod-1"),
    )
    await sla.fire(utc("2026-02-11T00:00:00"))
    viewer = bearer(["k8s-ops.viewer"], ["eng-247"])
    breaches = await api.get("/v1/sla/engagements/eng-247/breaches", params={"period": "2026-02"}, headers=viewer)
    assert [item["request_id"] for item in breaches.json()["items"]] == ["req-feb"]
    credits = await api.get("/v1/sla/engagements/eng-247/credits", headers=viewer)
    assert credits.json()["total_bdt"] == "20000.00"
    assert sorted(item["period"] for item in credits.json()["items"]) == ["2026-01", "2026-02"]
    bad = await api.get("/v1/sla/engagements/eng-247/credits", params={"period": "2026-13"}, headers=viewer)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert "period" in bad.json()["detail"]


async def test_policies_are_data_read_by_anyone_edited_by_operators_and_audited(
    sla: SlaHarness, api: httpx.AsyncClient
) -> None:
    viewer = bearer(["k8s-ops.viewer"], ["eng-biz"])
    operator = bearer(["k8s-ops.operator"], ["eng-biz"], sub="op@provider.example")
    policies = (await api.get("/v1/sla/policies", headers=viewer)).json()
    assert len(policies["response_targets"]) == 12 and len(policies["credit_rules"]) == 3
    contractual = {(t["tier"], t["priority"]) for t in policies["response_targets"] if t["contractual"]}
    assert contractual == {("k8s-247", "P1"), ("k8s-247-cluster-admin", "P1")}

    path = "/v1/sla/policies/response-targets/k8s-business/P3"
    refused = await api.put(path, json={"budget_minutes": 120, "clock": "business"}, headers=viewer)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    invalid = await api.put(path, json={"budget_minutes": 0, "clock": "sundial"}, headers=operator)
    assert invalid.status_code == 422 and invalid.headers["content-type"] == PROBLEM
    contract = await api.put(
        "/v1/sla/policies/response-targets/k8s-247/P1", json={"budget_minutes": 60, "clock": "wall"}, headers=operator
    )
    assert contract.status_code == 409 and contract.headers["content-type"] == PROBLEM
    edited = await api.put(path, json={"budget_minutes": 120, "clock": "business"}, headers=operator)
    assert edited.status_code == 200, edited.text
    rule = await api.put(
        "/v1/sla/policies/credit-rules/k8s-business",
        json={"percent_of_retainer": "7.5", "monthly_cap_percent_of_retainer": "30"},
        headers=operator,
    )
    assert rule.status_code == 200, rule.text

    edits = [event for event in await sla.events("audit.event") if event["action"].startswith("sla.policy.")]
    assert [(edit["action"], edit["actor"]["sub"]) for edit in edits] == [
        ("sla.policy.response_target.update", "op@provider.example"),
        ("sla.policy.credit_rule.update", "op@provider.example"),
    ]
    assert edits[0]["details"]["from_budget_minutes"] == 240 and edits[0]["details"]["budget_minutes"] == 120

    # Timers armed after the edit use it; so do breaches.
    await sla.deliver(
        engagement("eng-biz", "k8s-business", "Europe/London", retainers={"prod-1": "100000"}),
        opened("req-after-edit", "eng-biz", "P3", utc("2026-01-06T09:00:00"), cluster_id="prod-1"),
    )
    assert (await sla.timer("req-after-edit"))["due_at"] == utc("2026-01-06T11:00:00")
    await sla.fire(utc("2026-01-06T12:00:00"))
    [credit] = await sla.events("credit.issued")
    assert credit["amount_bdt"] == "7500.00"
