"""Incident response (issue 17) through intake's own consumer and delivery loop, to a real local
Events API v2 receiver, with SLA events on the real broker and a real audit service for the timeline."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from k8sops_audit.app import DEFINITION as AUDIT
from k8sops_common.events.catalog import (
    ActorV1,
    AuditEventV1,
    AuditTargetV1,
    CreditIssuedV1,
    SlaWarningV1,
)
from k8sops_common.service import create_app
from k8sops_intake.incidents.settings import IncidentSettings
from k8sops_intake.settings import WebhookSettings
from k8sops_platform.embedded import free_port
from tests.support.bus import publish

from .conftest import ADMIN, OPERATOR, OWN, SENIOR, Intake, read_body
from .test_intake_partner_webhooks import signed, ticket_event

Eventually = Callable[..., Awaitable[Any]]
# Retries slow enough that an acknowledgement is queued while its trigger is still failing.
PAGING = WebhookSettings(allow_private_targets=True, retry_base_s=0.3, retry_max_s=0.6, poll_interval_s=0.02)


@dataclass
class EventsApi:
    """A PagerDuty Events API v2 endpoint: fails the first `failures` posts with 503, then answers
    202 and keeps each accepted event in arrival order."""

    failures: int
    posts: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        self.posts += 1
        status = 503 if self.posts <= self.failures else 202
        if status == 202:
            self.accepted.append(json.loads(body))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b'{"status":"success"}'})

    def of(self, routing_key: str) -> list[tuple[str, str]]:
        return [(e["event_action"], e["dedup_key"]) for e in self.accepted if e.get("routing_key") == routing_key]


async def set_up_pagers(intake: Intake, receiver: EventsApi) -> None:
    pager = {"kind": "events-api-v2", "url": receiver.url}
    body = {
        "bridge_template": "https://meet.example/{request_id}",
        "on_call": {**pager, "routing_key": "rk-oncall"},
        "senior_on_call": {**pager, "routing_key": "rk-senior"},
    }
    response = await intake.client.put(f"/v1/engagements/{OWN}/incident-response", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert "routing_key" not in response.text


async def move(intake: Intake, request_id: str, *actions: str) -> None:
    for action in actions:
        response = await intake.client.post(
            f"/v1/requests/{request_id}/transitions", json={"action": action}, headers=OPERATOR
        )
        assert response.status_code == 200, response.text


async def test_a_p1_incident_pages_once_and_acknowledgement_and_resolution_follow_even_through_failures(
    running_intake: Any, serve: Any, eventually: Eventually
) -> None:
    intake = await running_intake(PAGING)
    receiver = EventsApi(failures=2)
    receiver.url = await serve(receiver) + "/v2/enqueue"
    await set_up_pagers(intake, receiver)
    # The incident comes from the customer's tracker, which also takes the report on its ticket.
    tracker = EventsApi(failures=0)
    subscription = {"url": await serve(tracker) + "/tickets", "event_types": ["incident.report"]}
    response = await intake.client.post(f"/v1/engagements/{OWN}/webhooks", json=subscription, headers=ADMIN)
    assert response.status_code == 201, response.text
    partner = {"id": "acme-jira", "name": "ACME Jira"}
    partner = (await intake.client.post(f"/v1/engagements/{OWN}/partners", json=partner, headers=ADMIN)).json()
    ticket = ticket_event("JIRA-7", category="incident", priority="P1", title="checkout down")
    opened = await intake.client.post(
        partner["webhook_path"], content=ticket, headers=signed(partner["secret"], ticket)
    )
    assert opened.status_code == 201, opened.text
    request_id = opened.json()["request_id"]

    await eventually(lambda: intake.rows("pages", "request_id = $1", request_id), bool, timeout_s=30)
    await move(intake, request_id, "acknowledge", "start", "resolve")

    expected = [("trigger", request_id), ("acknowledge", request_id), ("resolve", request_id)]
    await eventually(lambda: asyncio.sleep(0, receiver.of("rk-oncall")), lambda got: len(got) >= 3, timeout_s=30)
    assert receiver.of("rk-oncall") == expected, "in order, each exactly once"
    assert receiver.of("rk-senior") == [], "acknowledged before the SLA warning: no escalation"
    (trigger,) = [e for e in receiver.accepted if e.get("event_action") == "trigger"]
    assert trigger["payload"]["severity"] == "critical"
    assert "checkout down" in trigger["payload"]["summary"] and trigger["payload"]["source"] == f"k8sops/{OWN}"
    bridge = f"https://meet.example/{request_id}"
    assert trigger["links"] == [{"href": bridge, "text": "Incident bridge"}]

    deliveries = await eventually(
        lambda: intake.rows("webhook_deliveries", "event_type LIKE 'incident.page.%' ORDER BY id"),
        lambda rows: all(row["status"] == "delivered" for row in rows),
        timeout_s=30,
    )
    assert [(d["event_type"], d["status"], d["attempts"]) for d in deliveries] == [
        ("incident.page.trigger", "delivered", 3),
        ("incident.page.acknowledge", "delivered", 1),
        ("incident.page.resolve", "delivered", 1),
    ]
    assert receiver.posts == 5, "two failed posts of the trigger, then one post of each event"
    comments = (await intake.client.get(f"/v1/requests/{request_id}/comments", headers=ADMIN)).json()
    assert [c["body"] for c in comments] == [f"Incident bridge: {bridge}"]

    report = await eventually(
        lambda: intake.client.get(f"/v1/requests/{request_id}/incident-report", headers=ADMIN),
        lambda response: response.json()["attached_markdown"] is not None,
        timeout_s=30,
    )
    attached = report.json()["attached_markdown"]
    assert "## Detection" in attached and "## Resolution" in attached and "operator@provider.example" in attached
    assert "within the SLA" in attached  # acknowledged within k8s-247's 30 minutes
    # No audit service here: the draft is stored all the same and says why cluster actions may be missing.
    assert "Cluster actions may be missing: the audit service at http://127.0.0.1:9 is unreachable" in attached
    filed = await eventually(
        lambda: asyncio.sleep(0, [e for e in tracker.accepted if e.get("type") == "incident.report"]),
        bool,
        timeout_s=30,
    )
    assert filed[0]["data"]["partner_ticket_id"] == "JIRA-7" and filed[0]["data"]["markdown"] == attached

    # Who is paged is the policy table's call: a P3 is not, until a senior says so.
    quiet = await intake.open_request(priority="P3")
    await eventually(lambda: intake.rows("incident_log", "request_id = $1", quiet["id"]), bool, timeout_s=30)
    assert await intake.rows("pages", "request_id = $1", quiet["id"]) == []
    rule = {"mode": "immediately", "escalate": False}
    changed = await intake.client.put("/v1/paging-policies/k8s-247/P3/workload-issue", json=rule, headers=SENIOR)
    assert changed.status_code == 200, changed.text
    loud = await intake.open_request(priority="P3")
    await eventually(
        lambda: asyncio.sleep(0, receiver.of("rk-oncall")), lambda got: ("trigger", loud["id"]) in got, timeout_s=30
    )


async def test_unacknowledged_at_the_warning_the_senior_is_paged_and_the_timeline_shows_cluster_actions(
    running_intake: Any, serve: Any, isolation: Any, eventually: Eventually
) -> None:
    audit_settings = await isolation.settings("audit", AUDIT.migrations_package)
    audit_url = await serve(create_app(AUDIT, audit_settings), "on")
    intake = await running_intake(PAGING, audit_url)
    receiver = EventsApi(failures=0)
    receiver.url = await serve(receiver) + "/v2/enqueue"
    await set_up_pagers(intake, receiver)
    request = await intake.open_request(category="incident", priority="P1", title="etcd quorum lost")
    request_id = request["id"]
    await eventually(lambda: asyncio.sleep(0, receiver.of("rk-oncall")), bool, timeout_s=30)

    now = datetime.now(UTC)
    warning = SlaWarningV1(
        timer_id=request_id, request_id=request_id, engagement_id=OWN, cluster_id=f"{OWN}-prod",
        priority="P1", deadline=now, warned_at=now,
    )  # fmt: skip
    await publish(isolation, "sla-timer", warning)
    await eventually(lambda: asyncio.sleep(0, receiver.of("rk-senior")), bool, timeout_s=30)
    assert receiver.of("rk-senior") == [("trigger", request_id)]

    credit = CreditIssuedV1(
        credit_id="credit-1", engagement_id=OWN, cluster_id=f"{OWN}-prod", request_id=request_id,
        breach_id="breach-1", amount_bdt=Decimal("25000.00"), period=now.strftime("%Y-%m"), reason="P1 missed",
    )  # fmt: skip
    await publish(isolation, "sla-timer", credit)
    await eventually(lambda: asyncio.sleep(0, receiver.of("rk-senior")), lambda got: len(got) == 2, timeout_s=30)
    breach_page = receiver.accepted[-1]
    assert breach_page["dedup_key"] == f"{request_id}:breach"
    assert "credit at stake 25000.00 BDT" in breach_page["payload"]["summary"]

    scaled = AuditEventV1(
        actor=ActorV1(sub="operator@provider.example", roles=["k8s-ops.operator"]), action="cluster.scale",
        target=AuditTargetV1(kind="Deployment", name="etcd-proxy", namespace="infra", cluster=f"{OWN}-prod"),
        engagement_id=OWN, outcome="success", trace_id=uuid.uuid4().hex, source_service="upgrade-runner",
        occurred_at=datetime.now(UTC), details={"request_id": request_id, "action_id": "act-1"},
    )  # fmt: skip
    await publish(isolation, "upgrade-runner", scaled)

    async def timeline() -> dict[str, Any]:
        response = await intake.client.get(f"/v1/requests/{request_id}/timeline", headers=OPERATOR)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    found = await eventually(
        timeline, lambda body: any(e["kind"] == "audit.cluster.scale" for e in body["entries"]), timeout_s=30
    )
    assert found["audit_unavailable"] is None
    kinds = [entry["kind"] for entry in found["entries"]]
    for kind in ("request.opened", "bridge.opened", "page.trigger", "sla.warning", "sla.breached"):
        assert kind in kinds
    times = [entry["at"] for entry in found["entries"]]
    assert times == sorted(times, key=datetime.fromisoformat)
    (action,) = [entry for entry in found["entries"] if entry["kind"] == "audit.cluster.scale"]
    assert action["actor"] == "operator@provider.example" and action["source"] == "audit"
    assert action["details"]["linked_by"] == "request" and "infra/etcd-proxy" in action["summary"]
    senior_pages = [e for e in found["entries"] if e["kind"] == "page.trigger" and e["details"]["role"] == "senior"]
    assert len(senior_pages) == 2

    # The draft attached at resolution, which no caller asked for, reads the audit trail with
    # intake's own credential and lists the cluster action.
    await move(intake, request_id, "acknowledge", "start", "resolve")
    report = await eventually(
        lambda: intake.client.get(f"/v1/requests/{request_id}/incident-report", headers=OPERATOR),
        lambda response: response.json()["attached_markdown"] is not None,
        timeout_s=30,
    )
    attached = report.json()["attached_markdown"]
    actions = attached.split("## Actions in the cluster\n", 1)[1].split("\n\n", 1)[0]
    assert "operator@provider.example: cluster.scale Deployment/infra/etcd-proxy" in actions, attached
    assert "missing" not in attached


async def test_a_timeline_without_the_audit_service_says_so_instead_of_failing(intake: Intake) -> None:
    intake.app.state.context.extras["incident_settings"] = IncidentSettings(audit_url=f"http://127.0.0.1:{free_port()}")
    await intake.setup_engagement()
    request = await intake.open_request(category="incident", priority="P1", title="api down")
    response = await intake.client.get(f"/v1/requests/{request['id']}/timeline", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert "unreachable" in response.json()["audit_unavailable"]
    assert [entry["kind"] for entry in response.json()["entries"]] == ["request.opened"]


async def test_paging_policies_are_data_that_seniors_change_and_the_audit_trail_records(intake: Intake) -> None:
    defaults = (await intake.client.get("/v1/paging-policies", headers=OPERATOR)).json()
    by_key = {(p["tier"], p["priority"], p["category"]): p for p in defaults}
    assert by_key[("k8s-247", "P1", "*")]["mode"] == "immediately"
    assert by_key[("k8s-business", "P1", "*")]["mode"] == "business_hours"
    assert by_key[("k8s-247", "P3", "*")]["mode"] == "never"

    path = "/v1/paging-policies/k8s-business/P3/incident"
    refused = await intake.client.put(path, json={"mode": "immediately", "escalate": True}, headers=OPERATOR)
    assert refused.status_code == 403
    for bad_path, body in (
        ("/v1/paging-policies/k8s-gold/P1/*", {"mode": "never", "escalate": False}),
        ("/v1/paging-policies/k8s-247/P1/chat", {"mode": "never", "escalate": False}),
        (path, {"mode": "sometimes", "escalate": False}),
    ):
        response = await intake.client.put(bad_path, json=body, headers=SENIOR)
        assert response.status_code == 422, (bad_path, response.text)
    changed = await intake.client.put(path, json={"mode": "immediately", "escalate": True}, headers=SENIOR)
    assert changed.status_code == 200, changed.text
    assert changed.json()["updated_by"] == "senior@provider.example"
    (entry,) = [e["data"] for e in await intake.events("audit.event") if e["data"]["action"] == "paging_policy.update"]
    assert entry["actor"]["sub"] == "senior@provider.example"
    assert {"category": "incident", "mode": "immediately", "previous_mode": None}.items() <= entry["details"].items()
    listed = (await intake.client.get("/v1/paging-policies", headers=OPERATOR)).json()
    assert {"tier": "k8s-business", "priority": "P3", "category": "incident", "mode": "immediately"}.items() <= next(
        p for p in listed if (p["tier"], p["priority"], p["category"]) == ("k8s-business", "P3", "incident")
    ).items()


async def test_pager_setup_is_checked_and_never_shows_routing_keys(intake: Intake) -> None:
    await intake.setup_engagement(with_clusters=False)
    path = f"/v1/engagements/{OWN}/incident-response"
    for body in (
        {"on_call": {"kind": "events-api-v2", "url": "https://events.pagerduty.com/v2/enqueue"}},
        {"on_call": {"kind": "standard-webhooks", "url": "https://x.example/h", "routing_key": "rk"}},
        {"bridge_template": "https://meet.example/{ticket}"},
        {"bridge_template": "meet.example/{request_id}"},
    ):
        response = await intake.client.put(path, json=body, headers=ADMIN)
        assert response.status_code == 422, (body, response.text)
    assert await intake.count("pager_targets") == 0
    body = {"on_call": {"kind": "standard-webhooks", "url": "https://pager.example/hook"}}
    created = (await intake.client.put(path, json=body, headers=SENIOR)).json()
    assert created["on_call"]["secret"].startswith("whsec_")
    shown = (await intake.client.get(path, headers=OPERATOR)).json()
    assert shown["on_call"]["secret"] is None and shown["on_call"]["url"] == "https://pager.example/hook"
