"""A migration's `upgrade.step` events, published on the real broker as the runner writes them,
move its request by the operation's state: waiting on the customer for sign-off and for the
decommission authorisation, back in progress after each, resolved when complete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from k8sops_common.events.catalog import UpgradeStepV1
from tests.support.bus import publish

from .conftest import ADMIN, OPERATOR, OWN
from .test_intake_outbound_webhooks import FAST

Eventually = Callable[..., Awaitable[Any]]

# (state, step, status, detail) in the order the runner's migration machine moves.
RUN = [
    ("prechecking", "pre-check", "running", "provisioning shop-v2"),
    ("awaiting_signoff", "stage", "succeeded", "the CD/CI checklist checklist-0a1b2c3d4e5f waits for sign-off"),
    ("scheduled", "production", "waiting", "signed off by admin@customer.example"),
    ("applying", "production", "running", "window opened"),
    ("shift_blocked", "production", "waiting", "moved back to the old cluster: Deployment shop/web: not ready"),
    ("applying", "production", "running", "re-check"),
    ("postchecking", "post-check", "running", "2 workload(s) shifted"),
    ("awaiting_decommission", "post-check", "succeeded", "every workload ready on the new cluster"),
    ("decommissioning", "production", "running", "decommission authorised"),
    ("completed", "report", "succeeded", "old cluster deleted"),
]


async def test_a_migration_waits_on_the_customer_twice_and_resolves(
    running_intake: Any, isolation: Any, eventually: Eventually
) -> None:
    intake = await running_intake(FAST)
    request = await intake.open_request(category="migration", priority="P3", title="Move shop to a new cluster")
    acknowledged = await intake.client.post(
        f"/v1/requests/{request['id']}/transitions", json={"action": "acknowledge"}, headers=OPERATOR
    )
    assert acknowledged.status_code == 200, acknowledged.text
    start = datetime.now(UTC)
    events = [
        UpgradeStepV1.model_validate(
            {
                "plan_id": "op-mig-1",
                "operation_id": "op-mig-1",
                "kind": "migration",
                "state": state,
                "engagement_id": OWN,
                "cluster_id": f"{OWN}-prod",
                "request_id": request["id"],
                "step": step,
                "status": status,
                "from_version": "1.30.4",
                "to_version": "1.31.2",
                "detail": detail,
                "at": start + timedelta(seconds=number),
            }
        )
        for number, (state, step, status, detail) in enumerate(RUN)
    ]
    await publish(isolation, "upgrade-runner", *events)

    async def current() -> dict[str, Any]:
        result: dict[str, Any] = (await intake.client.get(f"/v1/requests/{request['id']}", headers=ADMIN)).json()
        return result

    await eventually(current, lambda row: row["status"] == "resolved", timeout_s=30)
    moves = [e["data"] for e in await intake.events("request.updated") if e["data"]["change"] == "status_changed"]
    assert [m["status"] for m in moves] == [
        "in_progress", "waiting_on_customer", "in_progress", "waiting_on_customer", "in_progress", "resolved",
    ]  # fmt: skip
    comments = (await intake.client.get(f"/v1/requests/{request['id']}/comments", headers=ADMIN)).json()
    bodies = [c["body"] for c in comments if c["author"] == "upgrade-runner"]
    assert len(bodies) == 4, bodies
    signoff, blocked, decommission, completed = bodies
    assert "checklist-0a1b2c3d4e5f" in signoff and "POST /v1/operations/op-mig-1/sign-off" in signoff
    assert blocked.startswith("Migration shift blocked") and "Deployment shop/web" in blocked
    assert "decommission-cluster authorisation" in decommission
    assert completed.startswith("Migration completed")
