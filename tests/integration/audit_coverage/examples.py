"""A valid call of every state-changing route, keyed by (service, METHOD, OpenAPI path).

Each example sets up what the call needs (through other routes, which audit too) and returns the
call itself; the test counts audit events around that call only.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from .examples_cost import COST_EXAMPLES
from .examples_upgrade import UPGRADE_EXAMPLES
from .support import Call, Example, World

ENGAGEMENT = "eng-cov"
SENIOR = ("k8s-ops.senior",)
ADMIN = ("k8s-ops.admin",)
OPERATOR = ("k8s-ops.operator",)


def engagement_body() -> dict[str, Any]:
    return {
        "id": ENGAGEMENT,
        "name": "Coverage Ltd",
        "tier": "k8s-247",
        "timezone": "Asia/Dhaka",
        "working_days": [6, 0, 1, 2, 3],
        "holiday_country": "BD",
        "maintenance_window": {"weekday": 4, "start_local": "02:00", "duration_minutes": 240},
    }


def cluster_body(cluster_id: str) -> dict[str, Any]:
    return {
        "id": cluster_id,
        "name": cluster_id,
        "environment": "non-prod",
        "api_endpoint": f"https://{cluster_id}.k8s.example:6443",
        "credentials_ref": f"vault://k8s/{cluster_id}",
        "size_band": "S",
        "workload_band": "<50",
        "monthly_retainer_bdt": "50000.00",
    }


async def ok(response: Any) -> Any:
    assert response.is_success, response.text
    return response.json() if response.content else None


async def with_engagement(world: World) -> None:
    await ok(await world.client.post("/v1/engagements", json=engagement_body(), headers=world.headers(*SENIOR)))


async def with_cluster(world: World, cluster_id: str = "cov-1") -> str:
    await with_engagement(world)
    path = f"/v1/engagements/{ENGAGEMENT}/clusters"
    await ok(await world.client.post(path, json=cluster_body(cluster_id), headers=world.headers(*ADMIN)))
    return cluster_id


async def with_request(world: World) -> str:
    await with_engagement(world)
    body = {"engagement_id": ENGAGEMENT, "category": "incident", "priority": "P1", "title": "API down"}
    created = await ok(await world.client.post("/v1/requests", json=body, headers=world.headers(*ADMIN)))
    return str(created["id"])


async def with_dispute(world: World) -> str:
    request_id = await with_request(world)
    body = {"engagement_id": ENGAGEMENT, "subject_kind": "request", "subject_id": request_id, "summary": "app issue?"}
    created = await ok(await world.client.post("/v1/disputes", json=body, headers=world.headers(*ADMIN)))
    return str(created["id"])


def calling(method: str, path: str, roles: tuple[str, ...], body: Any = None) -> Example:
    """An example whose call needs only the engagement to exist."""

    async def example(world: World) -> Call:
        await with_engagement(world)
        return lambda: world.client.request(method, path, json=body, headers=world.headers(*roles))

    return example


async def create_engagement(world: World) -> Call:
    return lambda: world.client.post("/v1/engagements", json=engagement_body(), headers=world.headers(*SENIOR))


async def change_cluster(world: World) -> Call:
    cluster = await with_cluster(world)
    path = f"/v1/engagements/{ENGAGEMENT}/clusters/{cluster}"
    return lambda: world.client.patch(path, json={"size_band": "M"}, headers=world.headers(*ADMIN))


async def remove_cluster(world: World) -> Call:
    cluster = await with_cluster(world)
    path = f"/v1/engagements/{ENGAGEMENT}/clusters/{cluster}"
    return lambda: world.client.delete(path, headers=world.headers(*ADMIN))


async def open_request(world: World) -> Call:
    await with_engagement(world)
    body = {"engagement_id": ENGAGEMENT, "category": "incident", "priority": "P1", "title": "API down"}
    return lambda: world.client.post("/v1/requests", json=body, headers=world.headers("k8s-ops.requester"))


async def change_priority(world: World) -> Call:
    request_id = await with_request(world)
    return lambda: world.client.patch(
        f"/v1/requests/{request_id}", json={"priority": "P2"}, headers=world.headers(*OPERATOR)
    )


async def acknowledge(world: World) -> Call:
    request_id = await with_request(world)
    return lambda: world.client.post(
        f"/v1/requests/{request_id}/transitions", json={"action": "acknowledge"}, headers=world.headers(*OPERATOR)
    )


async def comment(world: World) -> Call:
    request_id = await with_request(world)
    return lambda: world.client.post(
        f"/v1/requests/{request_id}/comments", json={"body": "looking"}, headers=world.headers(*OPERATOR)
    )


async def open_dispute(world: World) -> Call:
    request_id = await with_request(world)
    body = {"engagement_id": ENGAGEMENT, "subject_kind": "request", "subject_id": request_id, "summary": "app issue?"}
    return lambda: world.client.post("/v1/disputes", json=body, headers=world.headers(*ADMIN))


async def add_dispute_entry(world: World) -> Call:
    dispute_id = await with_dispute(world)
    return lambda: world.client.post(
        f"/v1/disputes/{dispute_id}/entries",
        json={"kind": "provider_position", "text": "pods OOM on the app's own limits"},
        headers=world.headers(*OPERATOR),
    )


async def upload_holiday_calendar(world: World) -> Call:
    await with_engagement(world)
    ics = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Victory Day\r\n"
        b"DTSTART;VALUE=DATE:20271216\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    path = f"/v1/engagements/{ENGAGEMENT}/holiday-calendar"
    headers = {**world.headers(*ADMIN), "content-type": "text/calendar"}
    return lambda: world.client.put(path, content=ics, headers=headers)


async def change_webhook(world: World) -> Call:
    await with_engagement(world)
    created = await ok(
        await world.client.post(
            f"/v1/engagements/{ENGAGEMENT}/webhooks",
            json={"url": "https://hooks.example/k8s-ops", "event_types": ["request.updated"]},
            headers=world.headers(*ADMIN),
        )
    )
    path = f"/v1/engagements/{ENGAGEMENT}/webhooks/{created['id']}"
    return lambda: world.client.patch(path, json={"enabled": False}, headers=world.headers(*ADMIN))


async def partner_ticket(world: World) -> Call:
    await with_engagement(world)
    partner = await ok(
        await world.client.post(
            f"/v1/engagements/{ENGAGEMENT}/partners",
            json={"id": "cov-jira", "name": "Jira"},
            headers=world.headers(*ADMIN),
        )
    )
    body = json.dumps(
        {
            "event": "ticket.created",
            "ticket": {"id": "COV-1", "title": "Nodes NotReady", "category": "incident", "priority": "P2"},
        }
    )
    message_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(partner["secret"]).sign(message_id, now, body),
        "content-type": "application/json",
    }
    return lambda: world.client.post(partner["webhook_path"], content=body.encode(), headers=headers)


EXAMPLES: dict[tuple[str, str, str], Example] = {
    ("intake", "POST", "/v1/engagements"): create_engagement,
    ("intake", "PATCH", "/v1/engagements/{engagement_id}"): calling(
        "PATCH", f"/v1/engagements/{ENGAGEMENT}", ADMIN, {"on_call": "oncall@customer.example"}
    ),
    ("intake", "PUT", "/v1/engagements/{engagement_id}/holiday-calendar"): upload_holiday_calendar,
    ("intake", "POST", "/v1/engagements/{engagement_id}/clusters"): calling(
        "POST", f"/v1/engagements/{ENGAGEMENT}/clusters", ADMIN, cluster_body("cov-new")
    ),
    ("intake", "PATCH", "/v1/engagements/{engagement_id}/clusters/{cluster_id}"): change_cluster,
    ("intake", "DELETE", "/v1/engagements/{engagement_id}/clusters/{cluster_id}"): remove_cluster,
    ("intake", "POST", "/v1/requests"): open_request,
    ("intake", "PATCH", "/v1/requests/{request_id}"): change_priority,
    ("intake", "POST", "/v1/requests/{request_id}/transitions"): acknowledge,
    ("intake", "POST", "/v1/requests/{request_id}/comments"): comment,
    ("intake", "POST", "/v1/disputes"): open_dispute,
    ("intake", "POST", "/v1/disputes/{dispute_id}/entries"): add_dispute_entry,
    ("intake", "POST", "/v1/engagements/{engagement_id}/partners"): calling(
        "POST", f"/v1/engagements/{ENGAGEMENT}/partners", ADMIN, {"id": "cov-servicenow", "name": "ServiceNow"}
    ),
    ("intake", "POST", "/v1/partners/{partner_id}/webhooks"): partner_ticket,
    ("intake", "POST", "/v1/engagements/{engagement_id}/webhooks"): calling(
        "POST",
        f"/v1/engagements/{ENGAGEMENT}/webhooks",
        ADMIN,
        {"url": "https://hooks.example/k8s-ops", "event_types": ["sla.breached"]},
    ),
    ("intake", "PATCH", "/v1/engagements/{engagement_id}/webhooks/{webhook_id}"): change_webhook,
    ("intake", "PUT", "/v1/engagements/{engagement_id}/incident-response"): calling(
        "PUT",
        f"/v1/engagements/{ENGAGEMENT}/incident-response",
        ADMIN,
        {
            "bridge_template": "https://meet.example/{request_id}",
            "on_call": {"kind": "events-api-v2", "url": "https://events.pager.example/v2/enqueue", "routing_key": "rk"},
        },
    ),
    ("intake", "PUT", "/v1/paging-policies/{tier}/{priority}/{category}"): calling(
        "PUT", "/v1/paging-policies/k8s-business/P3/incident", SENIOR, {"mode": "business_hours", "escalate": True}
    ),
    ("sla-timer", "PUT", "/v1/sla/policies/response-targets/{tier}/{priority}"): lambda world: _sla_put(
        world, "/v1/sla/policies/response-targets/k8s-247/P3", {"budget_minutes": 180, "clock": "business"}
    ),
    ("sla-timer", "PUT", "/v1/sla/policies/credit-rules/{tier}"): lambda world: _sla_put(
        world,
        "/v1/sla/policies/credit-rules/k8s-business",
        {"percent_of_retainer": "6.00", "monthly_cap_percent_of_retainer": "30.00"},
    ),
    **UPGRADE_EXAMPLES,
    **COST_EXAMPLES,
}


async def _sla_put(world: World, path: str, body: dict[str, Any]) -> Call:
    return lambda: world.client.put(path, json=body, headers=world.headers(*OPERATOR))
