"""sla-timer as a real process: events in through Kafka, alerts and credits out through Kafka.

The durability tests arm thousands of timers whose deadlines fall while the test runs (a request
opened 14 min 50 s ago at P1 on k8s-247-cluster-admin is due in 10 s), then kill or duplicate the
process and read what billing would read from `credit.issued`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from k8sops_common.auth import mint_token
from k8sops_common.events.catalog import (
    ClusterV1,
    EngagementChangedV1,
    RequestOpenedV1,
    RequestUpdatedV1,
)
from k8sops_common.settings import DEV_JWT_SECRET
from tests.conftest import Isolation
from tests.support.bus import publish

from .conftest import StartService, steadily

Eventually = Callable[..., Awaitable[Any]]
P1_BUDGET = timedelta(minutes=15)  # k8s-247-cluster-admin, contractual
ENGAGEMENT = "eng-sla-e2e"
CLUSTERS = [f"prod-{n}" for n in range(10)]


def the_engagement() -> EngagementChangedV1:
    return EngagementChangedV1(
        engagement_id=ENGAGEMENT,
        change="created",
        name="Padma Logistics",
        tier="k8s-247-cluster-admin",
        timezone="Asia/Dhaka",
        working_days=[6, 0, 1, 2, 3],
        holiday_country="BD",
        on_call="senior@provider.example",
        clusters=[
            ClusterV1(
                cluster_id=cluster_id,
                name=cluster_id,
                environment="prod",
                api_endpoint=f"https://{cluster_id}.example:6443",
                size_band="L",
                workload_band="200+",
                monthly_retainer_bdt=Decimal("100000"),
            )
            for cluster_id in CLUSTERS
        ],
        changed_at=datetime.now(UTC),
    )


def p1_due_at(request_id: str, due_at: datetime, cluster_id: str | None = None) -> RequestOpenedV1:
    return RequestOpenedV1(
        request_id=request_id,
        engagement_id=ENGAGEMENT,
        cluster_id=cluster_id,
        category="incident",
        priority="P1",
        title=f"{request_id}: API server unreachable",
        opened_at=due_at - P1_BUDGET,
        opened_by="alice@customer.example",
    )


async def read_topic(bootstrap: str, topic: str, expected: int) -> list[dict[str, Any]]:
    """Every envelope on the topic from the beginning (duplicates included), waiting for `expected`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    envelopes: list[dict[str, Any]] = []
    try:
        # Past the expected count, one more short poll shows whether anything extra is there.
        while batches := await consumer.getmany(timeout_ms=10_000 if len(envelopes) < expected else 1_000):
            for records in batches.values():
                envelopes += [json.loads(record.value) for record in records if record.value]
    finally:
        await consumer.stop()
    return envelopes


def distinct(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One per event id: the wire is at least once, consumers (billing too) keep the first of each id."""
    return list({envelope["id"]: envelope for envelope in envelopes}.values())


async def count(isolation: Isolation, query: str) -> int:
    rows = await isolation.fetch(query.replace("{schema}", isolation.schema_for("sla-timer")))
    return int(rows[0][0])


def fired_counter(metrics_text: str, alert: str) -> float:
    match = re.search(rf'k8sops_sla_alerts_fired_total\{{[^}}]*alert="{alert}"[^}}]*\}} ([0-9.e+]+)', metrics_text)
    return float(match.group(1)) if match else 0.0


async def assert_each_due_timer_fired_once(
    isolation: Isolation,
    due: set[str],
    not_due: set[str],
) -> None:
    """On the topics: one warning, one breach and one credit per due request; nothing for the rest;
    nothing before its time."""
    prefix, bootstrap = isolation.topic_prefix, isolation.bootstrap
    breaches = distinct(await read_topic(bootstrap, prefix + "sla.breached", len(due)))
    credits = distinct(await read_topic(bootstrap, prefix + "credit.issued", len(due)))
    warnings = distinct(await read_topic(bootstrap, prefix + "sla.warning", len(due)))

    breaches_per_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for breach in breaches:
        breaches_per_request[breach["data"]["request_id"]].append(breach)
    assert set(breaches_per_request) == due
    assert all(len(found) == 1 for found in breaches_per_request.values()), "a timer fired twice"
    for [breach] in breaches_per_request.values():
        # Written (envelope time) no earlier than the deadline it reports.
        assert datetime.fromisoformat(breach["time"]) >= datetime.fromisoformat(breach["data"]["deadline"])

    credits_per_breach: dict[str, set[str]] = defaultdict(set)
    for credit in credits:
        credits_per_breach[credit["data"]["breach_id"]].add(credit["data"]["credit_id"])
    assert credits_per_breach.keys() == {breach["data"]["breach_id"] for breach in breaches}
    assert all(len(ids) == 1 for ids in credits_per_breach.values()), "a breach was credited twice"
    per_cluster: dict[str, Decimal] = defaultdict(Decimal)
    for credit in credits:
        per_cluster[credit["data"]["cluster_id"]] += Decimal(credit["data"]["amount_bdt"])
    assert all(total <= Decimal("30000.00") for total in per_cluster.values()), per_cluster  # 30 % cap

    warned = [warning["data"]["request_id"] for warning in warnings]
    assert sorted(warned) == sorted(due), "every due timer warns exactly once"
    assert not_due.isdisjoint(warned)
    early = await count(
        isolation,
        "SELECT count(*) FROM {schema}.timers WHERE warned_at < warn_at OR (breached_at IS NOT NULL AND breached_at"
        " < due_at)",
    )
    assert early == 0
    fired_early = await count(isolation, "SELECT count(*) FROM {schema}.breaches WHERE fired_at < deadline")
    assert fired_early == 0


async def test_a_breach_reaches_billing_with_its_credit_and_a_pattern_escalates(
    isolation: Isolation, start_service: StartService, eventually: Eventually
) -> None:
    sla = await start_service("sla-timer")
    now = datetime.now(UTC)
    overdue = [p1_due_at(f"req-over-{n}", now - timedelta(minutes=5), cluster_id="prod-0") for n in range(3)]
    answered = p1_due_at("req-answered", now + timedelta(minutes=5), cluster_id="prod-0")
    await publish(isolation, "intake", the_engagement(), *overdue, answered)
    await publish(
        isolation,
        "intake",
        RequestUpdatedV1(
            request_id="req-answered",
            engagement_id=ENGAGEMENT,
            change="acknowledged",
            status="acknowledged",
            priority="P1",
            changed_at=now,
            changed_by="oncall@provider.example",
        ),
    )
    credits = distinct(await read_topic(isolation.bootstrap, isolation.topic_prefix + "credit.issued", 3))
    assert sorted(credit["data"]["amount_bdt"] for credit in credits) == ["0.00", "15000.00", "15000.00"]
    assert {credit["data"]["period"] for credit in credits} == {(now - timedelta(minutes=5)).strftime("%Y-%m")}
    [escalation] = distinct(await read_topic(isolation.bootstrap, isolation.topic_prefix + "sla.escalated", 1))
    assert escalation["data"]["senior_on_call"] == "senior@provider.example"
    audits = distinct(await read_topic(isolation.bootstrap, isolation.topic_prefix + "audit.event", 9))
    actions = sorted(audit["data"]["action"] for audit in audits)
    assert actions == ["sla.breach"] * 3 + ["sla.escalate"] + ["sla.timer.arm"] * 4 + ["sla.timer.stop"]

    token = mint_token(DEV_JWT_SECRET, sub="rahim@customer.example", roles=["k8s-ops.viewer"], engagements=[ENGAGEMENT])
    async with httpx.AsyncClient(base_url=sla.url, headers={"Authorization": f"Bearer {token}"}) as client:
        breached = (await client.get("/v1/sla/requests/req-over-0")).json()
        answered_state = (await client.get("/v1/sla/requests/req-answered")).json()
    assert breached["breached"] is True and breached["remaining_seconds"] < 0
    assert answered_state["breached"] is False and answered_state["stopped_at"] is not None


async def test_kill_9_with_10000_armed_timers_fires_every_due_one_exactly_once(
    isolation: Isolation, start_service: StartService, eventually: Eventually
) -> None:
    sla = await start_service("sla-timer")
    armed_query = "SELECT count(*) FROM {schema}.timers WHERE due_at IS NOT NULL"
    breached_query = "SELECT count(*) FROM {schema}.breaches"
    # 3,000 fall due in an hour. Arming them first measures how fast this machine arms right now.
    loop = asyncio.get_running_loop()
    later = {f"req-later-{n:05d}": datetime.now(UTC) + timedelta(hours=1) for n in range(3000)}
    started = loop.time()
    await publish(
        isolation,
        "intake",
        the_engagement(),
        *(p1_due_at(request_id, at, CLUSTERS[n % 10]) for n, (request_id, at) in enumerate(later.items())),
    )
    await steadily(lambda: count(isolation, armed_query), lambda n: n == len(later))
    arming_3000_s = loop.time() - started
    # 7,000 across ten clusters fall due over 30 s, starting once arming them surely finished (20 s on a
    # quiet machine, later on a loaded one): the kill must come while some are still in the future.
    start = datetime.now(UTC) + timedelta(seconds=max(20.0, 10 + 2 * arming_3000_s * 7000 / 3000))
    due = {f"req-due-{n:05d}": start + timedelta(seconds=30 * n / 7000) for n in range(7000)}
    requests = [p1_due_at(request_id, at, CLUSTERS[n % 10]) for n, (request_id, at) in enumerate(due.items())]
    await publish(isolation, "intake", *requests)
    await steadily(lambda: count(isolation, armed_query), lambda n: n == 10_000)
    await steadily(lambda: count(isolation, breached_query), lambda n: n >= 300)

    sla.kill()  # SIGKILL: no shutdown, transactions in flight roll back
    killed_at = datetime.now(UTC)
    breached_before_kill = await count(isolation, breached_query)
    await asyncio.sleep(6)
    restarted_at = datetime.now(UTC)
    sla.start()
    sla.wait_ready(60)

    fell_due_while_down = sum(1 for due_at in due.values() if killed_at < due_at < restarted_at)
    assert breached_before_kill < len(due) and fell_due_while_down > 0, (breached_before_kill, fell_due_while_down)
    await steadily(lambda: count(isolation, breached_query), lambda n: n == len(due))
    unsent_query = "SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL"
    await steadily(lambda: count(isolation, unsent_query), lambda n: n == 0)
    await assert_each_due_timer_fired_once(isolation, set(due), set(later))


async def test_two_replicas_share_the_timers_and_never_double_fire(
    isolation: Isolation, start_service: StartService, eventually: Eventually
) -> None:
    replicas = [await start_service("sla-timer"), await start_service("sla-timer")]
    start = datetime.now(UTC)
    due = {f"req-due-{n:05d}": start + timedelta(seconds=5 + 10 * n / 3000) for n in range(3000)}
    later = {f"req-later-{n:05d}": start + timedelta(hours=1) for n in range(500)}
    requests = [
        p1_due_at(request_id, due_at, cluster_id=CLUSTERS[n % len(CLUSTERS)])
        for n, (request_id, due_at) in enumerate({**due, **later}.items())
    ]
    await publish(isolation, "intake", the_engagement(), *requests)
    breached_query = "SELECT count(*) FROM {schema}.breaches"
    await steadily(lambda: count(isolation, breached_query), lambda n: n == len(due))
    unsent_query = "SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL"
    await steadily(lambda: count(isolation, unsent_query), lambda n: n == 0)

    async with httpx.AsyncClient() as client:
        metrics = [(await client.get(f"{replica.url}/metrics")).text for replica in replicas]
    breaches_by_replica = [fired_counter(text, "breach") for text in metrics]
    warnings_by_replica = [fired_counter(text, "warning") for text in metrics]
    # Both did a share of the work, and the shares add up to exactly one of each per due timer.
    assert all(fired > 0 for fired in breaches_by_replica), breaches_by_replica
    assert sum(breaches_by_replica) == len(due) and sum(warnings_by_replica) == len(due)
    await assert_each_due_timer_fired_once(isolation, set(due), set(later))
