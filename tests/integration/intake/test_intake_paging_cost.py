"""What intake's own consumer reads to page: for a request whose paging policy does not page, the
policy rides on the read of the request the handler makes anyway, so such a request costs no
statement for paging; a page reads the posted bridge and the template together. Statements are
counted on the real database with a SQLAlchemy listener while intake's real consumer handles the
events its own outbox holds (or sla-timer's, as its relay would publish them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy import event as sqlalchemy_event

from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import SlaWarningV1, event_type_of
from k8sops_common.settings import ServiceSettings

from .conftest import ADMIN, OWN, SENIOR, Intake


async def opened_records(intake: Intake, request_ids: list[str]) -> list[ConsumerRecord[bytes, bytes]]:
    """The `request.opened` records of these requests, as the relay would publish them."""
    rows = await intake.isolation.fetch(
        f"SELECT topic, key, payload, traceparent FROM {intake.schema}.outbox "
        "WHERE topic = $1 AND key = ANY($2::text[]) ORDER BY id",
        f"{intake.isolation.topic_prefix}request.opened",
        request_ids,
    )
    records: list[ConsumerRecord[bytes, bytes]] = []
    for offset, row in enumerate(rows):
        key, value = row["key"].encode(), row["payload"].encode()
        headers = [("traceparent", row["traceparent"].encode())] if row["traceparent"] else []
        records.append(ConsumerRecord(row["topic"], 0, offset, 0, 0, key, value, None, len(key), len(value), headers))
    return records


async def consume_counting_statements(intake: Intake, records: list[ConsumerRecord[bytes, bytes]]) -> list[str]:
    context = intake.app.state.context
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = context.database.engine.sync_engine
    sqlalchemy_event.listen(engine, "before_cursor_execute", capture)
    try:
        await context.consumer.process(records)
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", capture)
    return statements


async def open_hardening_request(intake: Intake) -> str:
    """A P3 request: no default rule pages P3 (README, paging policy)."""
    opened = await intake.open_request(cluster_id=None, category="security-hardening", priority="P3")
    request_id: str = opened["id"]
    return request_id


async def test_requests_that_cannot_page_cost_no_paging_statement_and_the_live_policy_still_decides(
    intake: Intake,
) -> None:
    await intake.setup_engagement(with_clusters=False)
    quiet = [await open_hardening_request(intake) for _ in range(4)]

    statements = await consume_counting_statements(intake, await opened_records(intake, quiet))

    logged = await intake.rows("incident_log", "request_id = ANY($1::text[])", quiet)
    assert sorted(row["request_id"] for row in logged) == sorted(quiet), "each one's timeline entry, nothing else"
    assert [row["kind"] for row in logged] == ["request.opened"] * len(quiet)
    # The inbox once for the poll; per event, the request read with its policy and the timeline
    # entry. Before: also the engagement and the policy rules, per event.
    assert len([s for s in statements if "inbox" in s]) == 1, statements
    assert len(statements) == 1 + 2 * len(quiet), statements

    # The policy table decides, not the category or priority: a rule that pages P3
    # hardening requests pages them.
    rule = {"mode": "immediately", "escalate": False}
    response = await intake.client.put("/v1/paging-policies/k8s-247/P3/security-hardening", json=rule, headers=SENIOR)
    assert response.status_code == 200, response.text
    paged = await open_hardening_request(intake)
    await consume_counting_statements(intake, await opened_records(intake, [paged]))
    kinds = [row["kind"] for row in await intake.rows("incident_log", "request_id = $1 ORDER BY id", paged)]
    assert kinds == ["request.opened", "page.not_sent"], "no pager set up: the timeline says nobody was paged"


async def test_the_bridge_is_posted_once_and_an_escalation_reuses_its_link(intake: Intake) -> None:
    await intake.setup_engagement(with_clusters=False)
    bridge = {"bridge_template": "https://meet.example/{request_id}"}
    response = await intake.client.put(f"/v1/engagements/{OWN}/incident-response", json=bridge, headers=ADMIN)
    assert response.status_code == 200, response.text
    request_id = (await intake.open_request(cluster_id=None, category="incident", priority="P1"))["id"]
    await consume_counting_statements(intake, await opened_records(intake, [request_id]))

    now = datetime.now(UTC)
    warning = SlaWarningV1(
        timer_id=request_id, request_id=request_id, engagement_id=OWN, priority="P1", deadline=now, warned_at=now
    )
    envelope = Outbox(ServiceSettings(service_name="sla-timer")).envelope(warning)
    topic, key = intake.isolation.topic_prefix + event_type_of(warning).topic, request_id.encode()
    value = envelope.model_dump_json().encode()
    record = ConsumerRecord(topic, 0, 0, 0, 0, key, value, None, len(key), len(value), [])
    await consume_counting_statements(intake, [record])

    log = await intake.rows("incident_log", "request_id = $1 ORDER BY id", request_id)
    assert [row["kind"] for row in log] == [
        "request.opened",
        "bridge.opened",
        "page.not_sent",
        "sla.warning",
        "page.not_sent",
    ]
    comments = await intake.rows("request_comments", "request_id = $1", request_id)
    assert [c["body"] for c in comments] == [f"Incident bridge: https://meet.example/{request_id}"]
