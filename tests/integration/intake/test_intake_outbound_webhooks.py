"""Outbound webhooks through the service's own background loop, to a real local HTTP receiver that
verifies every delivery with the reference `standardwebhooks` library."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook

from k8sops_common.events.catalog import SlaBreachedV1, UpgradeStepV1
from k8sops_intake.settings import WebhookSettings
from tests.support.bus import publish

from .conftest import ADMIN, OPERATOR, OWN, Intake, build_intake, read_body

Eventually = Callable[..., Awaitable[Any]]


@dataclass
class Receiver:
    """Fails the first `failures` deliveries, then accepts; keeps each message id once (its effect)."""

    failures: int
    secret: str = ""
    attempts: list[str] = field(default_factory=list)
    verified: int = 0
    effects: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        payload = Webhook(self.secret).verify(body, headers)  # raises on a bad signature
        self.verified += 1
        self.attempts.append(headers["webhook-id"])
        status = 503 if len(self.attempts) <= self.failures else 200
        if status == 200:
            self.effects.setdefault(headers["webhook-id"], payload)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
async def start_receiver(serve: Any) -> Callable[[int], Awaitable[Receiver]]:
    async def start(failures: int) -> Receiver:
        receiver = Receiver(failures)
        receiver.url = await serve(receiver) + "/hooks"
        return receiver

    return start


FAST = WebhookSettings(
    allow_private_targets=True, retry_base_s=0.05, retry_max_s=0.2, poll_interval_s=0.02, max_attempts=10
)


async def subscribe(intake: Intake, receiver: Receiver, event_types: list[str]) -> str:
    response = await intake.client.post(
        f"/v1/engagements/{OWN}/webhooks", json={"url": receiver.url, "event_types": event_types}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    receiver.secret = response.json()["secret"]
    webhook_id: str = response.json()["id"]
    return webhook_id


async def test_a_receiver_failing_three_times_then_recovering_gets_the_event_once(
    running_intake: Any, start_receiver: Any, eventually: Eventually
) -> None:
    intake = await running_intake(FAST)
    receiver = await start_receiver(3)
    webhook_id = await subscribe(intake, receiver, ["request.opened"])
    request = await intake.open_request()

    deliveries_url = f"/v1/engagements/{OWN}/webhooks/{webhook_id}/deliveries"

    async def deliveries() -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = (await intake.client.get(deliveries_url, headers=ADMIN)).json()
        return result

    (delivery,) = await eventually(deliveries, lambda rows: rows and rows[0]["status"] == "delivered", timeout_s=20)
    assert delivery["attempts"] == 4
    assert [attempt["status_code"] for attempt in delivery["attempt_log"]] == [503, 503, 503, 200]
    assert receiver.attempts == [delivery["message_id"]] * 4  # one webhook-id, so the receiver can deduplicate
    assert receiver.verified == 4
    (effect,) = receiver.effects.values()
    assert effect["type"] == "request.opened" and effect["data"]["request_id"] == request["id"]
    await asyncio.sleep(0.5)
    assert len(receiver.attempts) == 4, "nothing is sent again once delivered"
    webhook = (await intake.client.get(f"/v1/engagements/{OWN}/webhooks", headers=ADMIN)).json()[0]
    assert webhook["enabled"] and webhook["consecutive_failures"] == 0 and "secret" not in webhook


async def test_an_endpoint_that_keeps_failing_is_disabled_and_its_owner_told(
    running_intake: Any, start_receiver: Any, eventually: Eventually
) -> None:
    settings = FAST.model_copy(update={"disable_after_failures": 3})
    intake = await running_intake(settings)
    receiver = await start_receiver(1_000)
    await subscribe(intake, receiver, ["request.opened", "request.updated"])
    await intake.open_request()

    async def webhook() -> dict[str, Any]:
        result: dict[str, Any] = (await intake.client.get(f"/v1/engagements/{OWN}/webhooks", headers=ADMIN)).json()[0]
        return result

    disabled = await eventually(webhook, lambda hook: not hook["enabled"], timeout_s=20)
    assert "3 consecutive failed attempts" in disabled["disabled_reason"]
    audit = [json.loads(row["payload"])["data"] for row in await intake.rows("outbox", "topic LIKE '%audit.event'")]
    (told,) = [entry for entry in audit if entry["action"] == "webhook.auto_disable"]
    assert told["engagement_id"] == OWN and told["details"]["consecutive_failures"] == 3
    await asyncio.sleep(0.3)
    assert len(receiver.attempts) == 3


async def test_private_targets_are_refused_unless_configuration_allows_them(isolation: Any) -> None:
    intake = await build_intake(isolation, WebhookSettings(allow_private_targets=False))
    try:
        await intake.setup_engagement(with_clusters=False)
        for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://localhost/x", "ftp://example.com/x"):
            response = await intake.client.post(
                f"/v1/engagements/{OWN}/webhooks", json={"url": url, "event_types": ["sla.breached"]}, headers=ADMIN
            )
            assert response.status_code == 422, url
            assert response.json()["type"].endswith("/webhook-target-refused")
        assert await intake.count("webhook_endpoints") == 0
    finally:
        await intake.client.aclose()
        await intake.app.state.context.database.dispose()


async def test_sla_breaches_and_upgrade_steps_update_the_request_and_reach_subscribers(
    running_intake: Any, start_receiver: Any, isolation: Any, eventually: Eventually
) -> None:
    intake = await running_intake(FAST)
    receiver = await start_receiver(0)
    await subscribe(intake, receiver, ["sla.breached", "upgrade.step", "request.updated"])
    request = await intake.open_request(category="cluster-upgrade", priority="P3", title="Upgrade to 1.32")
    acknowledged = await intake.client.post(
        f"/v1/requests/{request['id']}/transitions", json={"action": "acknowledge"}, headers=OPERATOR
    )
    assert acknowledged.status_code == 200
    now = datetime.now(UTC)
    breach = SlaBreachedV1(
        breach_id="br-1", request_id=request["id"], engagement_id=OWN, cluster_id=f"{OWN}-prod",
        tier="k8s-247", priority="P3", deadline=now, breached_at=now,
    )  # fmt: skip
    step = UpgradeStepV1(
        plan_id="plan-1", engagement_id=OWN, cluster_id=f"{OWN}-prod", request_id=request["id"],
        step="pre-check", status="running", from_version="1.31", to_version="1.32", at=now,
    )  # fmt: skip
    await publish(isolation, "sla-timer", breach)
    await publish(isolation, "upgrade-runner", step)

    async def current() -> dict[str, Any]:
        result: dict[str, Any] = (await intake.client.get(f"/v1/requests/{request['id']}", headers=ADMIN)).json()
        return result

    updated = await eventually(
        current, lambda row: row["sla_breached_at"] and row["status"] == "in_progress", timeout_s=30
    )
    assert (updated["upgrade_step"], updated["upgrade_status"]) == ("pre-check", "running")
    kinds = await eventually(
        lambda: asyncio.sleep(0, sorted(e["type"] for e in receiver.effects.values())),
        lambda types: len(types) >= 4,
        timeout_s=20,
    )
    # acknowledged + started (request.updated twice), the breach, the step.
    assert kinds == ["request.updated", "request.updated", "sla.breached", "upgrade.step"]
