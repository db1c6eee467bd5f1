"""An operation's report published on `upgrade.report` (real broker) is attached to the request it
came from and filed to the partner ticket through the customer's webhook, once per operation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from k8sops_common.events.catalog import UpgradeReportV1
from tests.support.bus import publish

from .conftest import ADMIN, OWN, VIEWER
from .test_intake_outbound_webhooks import FAST, Eventually, Receiver, subscribe
from .test_intake_partner_webhooks import signed, ticket_event

MARKDOWN = "# Upgrade report: shop-prod 1.31.4 → 1.32.1\n\nOutcome: completed\n\nnode pool-a drained\n"


async def test_an_upgrade_report_is_attached_to_its_request_and_filed_to_the_partner_ticket(
    running_intake: Any, serve: Any, isolation: Any, eventually: Eventually
) -> None:
    intake = await running_intake(FAST)
    tracker = Receiver(failures=0)
    tracker.url = await serve(tracker) + "/hooks"
    await subscribe(intake, tracker, ["upgrade.report"])
    partner = {"id": "acme-jira", "name": "ACME Jira"}
    partner = (await intake.client.post(f"/v1/engagements/{OWN}/partners", json=partner, headers=ADMIN)).json()
    ticket = ticket_event("JIRA-9", category="cluster-upgrade", priority="P3", title="Upgrade prod to 1.32")
    opened = await intake.client.post(
        partner["webhook_path"], content=ticket, headers=signed(partner["secret"], ticket)
    )
    assert opened.status_code == 201, opened.text
    request_id = opened.json()["request_id"]
    report = UpgradeReportV1(
        operation_id="op-up-7", engagement_id=OWN, cluster_id=f"{OWN}-prod", request_id=request_id,
        kind="upgrade", outcome="completed", from_version="1.31.4", to_version="1.32.1", markdown=MARKDOWN,
        report={"outcome": "completed", "node_pools": {"pool-a": [{"name": "n1", "phase": "done"}]}},
        report_path="/v1/operations/op-up-7/report", at=datetime.now(UTC),
    )  # fmt: skip
    # Delivered twice (a new envelope each time, as after a producer retry): attached once.
    await publish(isolation, "upgrade-runner", report, report)

    reports_url = f"/v1/requests/{request_id}/operation-reports"
    attached = await eventually(
        lambda: intake.client.get(reports_url, headers=VIEWER), lambda r: r.status_code == 200 and r.json()
    )
    filed = await eventually(lambda: asyncio.sleep(0, list(tracker.effects.values())), bool, timeout_s=30)
    (stored,) = attached.json()
    assert stored["operation_id"] == "op-up-7" and stored["outcome"] == "completed"
    assert stored["markdown"] == MARKDOWN
    assert stored["report"]["node_pools"]["pool-a"][0]["phase"] == "done" and not stored["truncated"]
    (data,) = [effect["data"] for effect in filed if effect["type"] == "upgrade.report"]
    assert (data["partner_id"], data["partner_ticket_id"]) == ("acme-jira", "JIRA-9")
    assert data["markdown"] == stored["markdown"] and data["report"] == stored["report"]

    # Both deliveries handled before counting what they left.
    await eventually(lambda: intake.rows("inbox", "topic LIKE '%upgrade.report'"), lambda rows: len(rows) == 2)
    comments = (await intake.client.get(f"/v1/requests/{request_id}/comments", headers=ADMIN)).json()
    (pointer,) = [c["body"] for c in comments if c["author"] == "intake:operation-reports"]
    assert pointer.startswith("Upgrade report of operation op-up-7 attached, outcome completed")
    assert reports_url in pointer and "/v1/operations/op-up-7/report" in pointer
    assert len((await intake.client.get(reports_url, headers=VIEWER)).json()) == 1
    audit = [e["data"] for e in await intake.events("audit.event")]
    assert [e["action"] for e in audit].count("request.attach_operation_report") == 1
