"""A `cost.report` answering a cost-optimization request is attached to that request as the
provider's comment, and reaches the customer's tracker through their webhook."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from k8sops_common.events.catalog import CostReportV1
from tests.support.bus import publish

from .conftest import ADMIN, OWN
from .test_intake_outbound_webhooks import (  # noqa: F401 - the fixtures
    FAST,
    Eventually,
    start_receiver,
    subscribe,
)


async def test_cost_report_is_attached_to_its_request_and_filed_to_the_tracker(
    running_intake: Any,
    start_receiver: Any,  # noqa: F811 - the imported fixture
    isolation: Any,
    eventually: Eventually,
) -> None:
    intake = await running_intake(FAST)
    receiver = await start_receiver(0)
    await subscribe(intake, receiver, ["cost.report"])
    request = await intake.open_request(category="cost-optimization", priority="P4", title="Our bill doubled")
    report = CostReportV1(
        analysis_id="an-42", engagement_id=OWN, cluster_id=f"{OWN}-prod", kind="cost-analysis", findings=6,
        monthly_savings_bdt=Decimal("28752.36"), generated_at=datetime.now(UTC), request_id=request["id"],
    )  # fmt: skip
    await publish(isolation, "cost-analyzer", report)

    async def comments() -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = (
            await intake.client.get(f"/v1/requests/{request['id']}/comments", headers=ADMIN)
        ).json()
        return result

    (comment,) = await eventually(comments, lambda found: len(found) == 1, timeout_s=30)
    assert comment["author"] == "cost-analyzer" and comment["side"] == "provider"
    assert "28,752.36 BDT" in comment["body"] and "/v1/cost/analyses/an-42/report.html" in comment["body"]
    filed = await eventually(
        lambda: asyncio.sleep(0, [e for e in receiver.effects.values() if e["type"] == "cost.report"]),
        lambda found: len(found) == 1,
        timeout_s=20,
    )
    assert filed[0]["data"]["analysis_id"] == "an-42"
    audit = [e["data"]["action"] for e in await intake.events("audit.event")]
    assert "request.attach_cost_report" in audit
