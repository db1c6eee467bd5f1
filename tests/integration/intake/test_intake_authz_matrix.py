"""Every endpoint x every role x own/other engagement, with the expected status of each cell.

"own" runs with a token that covers the record's engagement, "other" with a token of the same role
that covers only another engagement. A 404 for another engagement's record must be exactly the 404
of a record that does not exist at all, so nothing about its existence leaks.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .conftest import ADMIN, OTHER, OTHER_ADMIN, OWN, Intake, cluster_body, engagement_body, token

ROLES = ("viewer", "requester", "admin", "operator", "senior", "auditor", "anonymous")
ROLE_NAMES = {role: [f"k8s-ops.{role}"] for role in ROLES if role != "anonymous"}
PROVIDER = {"operator", "senior"}
counter = itertools.count()

Cell = tuple[int, int]  # expected status for (own engagement, other engagement)


def table(default: Cell, **per_role: Cell) -> dict[str, Cell]:
    """Roles not named get `default`; the anonymous caller always gets 401."""
    return {role: per_role.get(role, default) for role in ROLES if role != "anonymous"} | {"anonymous": (401, 401)}


READ = table((200, 404), auditor=(200, 200))
FORBIDDEN = (403, 403)


def managed(ok: int) -> dict[str, Cell]:
    return table(FORBIDDEN, admin=(ok, 404))


def participating(ok: int, other: int = 404) -> dict[str, Cell]:
    return table(FORBIDDEN, requester=(ok, other), admin=(ok, other), operator=(ok, other), senior=(ok, other))


@dataclass
class World:
    intake: Intake
    requests: dict[str, str]
    disputes: dict[str, str]
    webhooks: dict[str, str]


@dataclass
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    content: bytes | None = None  # a raw body (an .ics file) instead of JSON


Builder = Callable[[World, str, str, str], Awaitable[Call]]  # (world, engagement, role, fresh id) -> call


def admin_of(engagement: str) -> dict[str, str]:
    return ADMIN if engagement == OWN else OTHER_ADMIN


async def fresh_cluster(world: World, engagement: str, fresh: str) -> str:
    response = await world.intake.client.post(
        f"/v1/engagements/{engagement}/clusters",
        json=cluster_body(f"c-{fresh}", "non-prod"),
        headers=admin_of(engagement),
    )
    assert response.status_code == 201
    return f"c-{fresh}"


async def fresh_request(world: World, engagement: str) -> str:
    body = {"engagement_id": engagement, "category": "incident", "priority": "P1", "title": "down"}
    response = await world.intake.client.post("/v1/requests", json=body, headers=admin_of(engagement))
    assert response.status_code == 201
    request_id: str = response.json()["id"]
    return request_id


def call(method: str, path: str, body: Any = None, params: Any = None) -> Builder:
    async def build(world: World, engagement: str, role: str, fresh: str) -> Call:
        values = {
            "e": engagement,
            "r": world.requests[engagement],
            "d": world.disputes[engagement],
            "w": world.webhooks[engagement],
            "c": f"{engagement}-prod",
            "fresh": fresh,
        }
        made_body = body(values, role) if callable(body) else body
        return Call(method, path.format(**values), made_body, params(values) if params else None)

    return build


HOLIDAY_ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270401\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def upload_holidays(world: World, engagement: str, role: str, fresh: str) -> Call:
    return Call("PUT", f"/v1/engagements/{engagement}/holiday-calendar", content=HOLIDAY_ICS)


async def delete_cluster(world: World, engagement: str, role: str, fresh: str) -> Call:
    return Call("DELETE", f"/v1/engagements/{engagement}/clusters/{await fresh_cluster(world, engagement, fresh)}")


async def transition(world: World, engagement: str, role: str, fresh: str) -> Call:
    action = "acknowledge" if role in PROVIDER else "cancel"
    return Call("POST", f"/v1/requests/{await fresh_request(world, engagement)}/transitions", {"action": action})


def dispute_entry(values: dict[str, str], role: str) -> dict[str, str]:
    kind = {"senior": "senior_engaged", "operator": "provider_position"}.get(role, "customer_position")
    return {"kind": kind, "text": "position"}


MATRIX: dict[str, tuple[Builder, dict[str, Cell]]] = {
    "create engagement": (
        call(
            "POST",
            "/v1/engagements",
            lambda v, r: engagement_body(f"new-{v['fresh']}" if v["e"] == OWN else f"x-{v['fresh']}"),
        ),
        table(FORBIDDEN, senior=(201, 403)),
    ),
    "list engagements": (call("GET", "/v1/engagements"), table((200, 200))),
    "get engagement": (call("GET", "/v1/engagements/{e}"), READ),
    "change engagement": (
        call("PATCH", "/v1/engagements/{e}", {"on_call": "someone@customer.example"}),
        table(FORBIDDEN, admin=(200, 404), senior=(200, 404)),
    ),
    "upload holiday calendar": (upload_holidays, managed(200)),
    "add cluster": (
        call("POST", "/v1/engagements/{e}/clusters", lambda v, r: cluster_body(f"c-{v['fresh']}", "non-prod")),
        managed(201),
    ),
    "get cluster": (call("GET", "/v1/engagements/{e}/clusters/{c}"), READ),
    "change cluster": (call("PATCH", "/v1/engagements/{e}/clusters/{c}", {"size_band": "L"}), managed(200)),
    "remove cluster": (delete_cluster, managed(204)),
    "scope-creep report": (call("GET", "/v1/engagements/{e}/scope-creep"), READ),
    "open request": (
        call(
            "POST",
            "/v1/requests",
            lambda v, r: {"engagement_id": v["e"], "category": "incident", "priority": "P1", "title": "t"},
        ),
        participating(201, other=403),
    ),
    "list requests": (call("GET", "/v1/requests", params=lambda v: {"engagement_id": v["e"]}), READ),
    "get request": (call("GET", "/v1/requests/{r}"), READ),
    "change priority": (call("PATCH", "/v1/requests/{r}", {"priority": "P2"}), participating(200)),
    "transition request": (transition, participating(200)),
    "comment": (call("POST", "/v1/requests/{r}/comments", {"body": "hello"}), participating(201)),
    "list comments": (call("GET", "/v1/requests/{r}/comments"), READ),
    "operation reports": (call("GET", "/v1/requests/{r}/operation-reports"), READ),
    "open dispute": (
        call(
            "POST",
            "/v1/disputes",
            lambda v, r: {
                "engagement_id": v["e"],
                "subject_kind": "recommendation",
                "subject_id": "rec-1",
                "summary": "s",
            },
        ),
        participating(201, other=403),
    ),
    "get dispute": (call("GET", "/v1/disputes/{d}"), READ),
    "add dispute entry": (call("POST", "/v1/disputes/{d}/entries", dispute_entry), participating(200)),
    "register partner": (
        call("POST", "/v1/engagements/{e}/partners", lambda v, r: {"id": f"p-{v['fresh']}", "name": "Jira"}),
        managed(201),
    ),
    "list partners": (call("GET", "/v1/engagements/{e}/partners"), managed(200)),
    "register webhook": (
        call(
            "POST", "/v1/engagements/{e}/webhooks", {"url": "https://hooks.example/x", "event_types": ["sla.breached"]}
        ),
        managed(201),
    ),
    "list webhooks": (call("GET", "/v1/engagements/{e}/webhooks"), managed(200)),
    "change webhook": (call("PATCH", "/v1/engagements/{e}/webhooks/{w}", {"enabled": True}), managed(200)),
    "webhook deliveries": (call("GET", "/v1/engagements/{e}/webhooks/{w}/deliveries"), managed(200)),
    "get incident response": (call("GET", "/v1/engagements/{e}/incident-response"), READ),
    "set incident response": (
        call("PUT", "/v1/engagements/{e}/incident-response", {"bridge_template": "https://meet.example/x"}),
        table(FORBIDDEN, admin=(200, 404), senior=(200, 404)),
    ),
    "list paging policies": (call("GET", "/v1/paging-policies"), table((200, 200))),
    "set paging policy": (
        call("PUT", "/v1/paging-policies/k8s-business/P4/*", {"mode": "never", "escalate": False}),
        table(FORBIDDEN, senior=(200, 200)),
    ),
    "request timeline": (call("GET", "/v1/requests/{r}/timeline"), READ),
    "incident report": (call("GET", "/v1/requests/{r}/incident-report"), READ),
}

PUBLIC_ROUTES = {("POST", "/v1/partners/{partner_id}/webhooks")}  # signature-authenticated, tested on its own


async def build_world(intake: Intake) -> World:
    world = World(intake, {}, {}, {})
    for engagement in (OWN, OTHER):
        await intake.setup_engagement(engagement)
        world.requests[engagement] = await fresh_request(world, engagement)
        dispute = await intake.client.post(
            "/v1/disputes",
            json={
                "engagement_id": engagement,
                "subject_kind": "request",
                "subject_id": world.requests[engagement],
                "summary": "s",
            },
            headers=admin_of(engagement),
        )
        world.disputes[engagement] = dispute.json()["id"]
        webhook = await intake.client.post(
            f"/v1/engagements/{engagement}/webhooks",
            json={"url": "https://hooks.example/x", "event_types": ["request.updated"]},
            headers=admin_of(engagement),
        )
        world.webhooks[engagement] = webhook.json()["id"]
    return world


def headers_for(role: str, fresh: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    # The token covers OWN (and a fresh id a senior may take on); never OTHER.
    return token(ROLE_NAMES[role], [OWN, f"new-{fresh}"], sub=f"{role}@matrix.example")


async def send(world: World, request: Call, headers: dict[str, str]) -> Any:
    if request.content is not None:
        return await world.intake.client.request(
            request.method, request.path, content=request.content, params=request.params, headers=headers
        )
    return await world.intake.client.request(
        request.method, request.path, json=request.body, params=request.params, headers=headers
    )


def as_missing(world: World, path: str) -> str:
    """The same path with every id of the other engagement replaced by one that exists nowhere."""
    for identifier in (*world.requests.values(), *world.disputes.values(), *world.webhooks.values()):
        path = path.replace(identifier, "missing-1")
    return path.replace(OTHER, "eng-missing")


async def test_every_endpoint_for_every_role_in_own_and_other_engagements(intake: Intake) -> None:
    routes = {
        (method.upper(), path)
        for path, operations in intake.app.openapi()["paths"].items()
        if path.startswith("/v1/")
        for method in operations
    }
    assert len(routes - PUBLIC_ROUTES) == len(MATRIX), "every authenticated route needs a row in MATRIX"
    world = await build_world(intake)
    mismatches: list[str] = []
    for (name, (builder, expected)), role in itertools.product(MATRIX.items(), ROLES):
        for scenario, engagement in (("own", OWN), ("other", OTHER)):
            fresh = f"m{next(counter)}"
            request = await builder(world, engagement, role, fresh)
            response = await send(world, request, headers_for(role, fresh))
            want = expected[role][0 if scenario == "own" else 1]
            if response.status_code != want:
                mismatches.append(f"{name} / {role} / {scenario}: got {response.status_code}, want {want}")
                continue
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json", (name, role, scenario)
            elif scenario == "other" and role != "auditor":
                assert OTHER not in response.text, f"{name} / {role} leaks another engagement"
            if scenario == "other" and response.status_code == 404:
                absent = await send(
                    world,
                    Call(
                        request.method, as_missing(world, request.path), request.body, request.params, request.content
                    ),
                    headers_for(role, fresh),
                )
                assert (absent.status_code, absent.json()["type"], absent.json()["title"]) == (
                    404,
                    response.json()["type"],
                    response.json()["title"],
                ), (name, role)
    assert not mismatches, "\n".join(mismatches)
