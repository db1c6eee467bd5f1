"""What intake's own consumer spends on `request.opened` for requests whose paging policy does not
page: the policy rides on the read of the request the handler makes anyway, so such a request
costs no statement for paging. Statements are counted on the real database with a SQLAlchemy
listener while intake's real consumer handles the events its own outbox holds."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy import event as sqlalchemy_event

from .conftest import SENIOR, Intake


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
