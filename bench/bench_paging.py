"""CPU that intake's own consumer spends per `request.opened` (the incident handler: the request's
timeline entry and, if its paging policy says so, the page), measured in-process with
`time.process_time` as `bench_cpu.py` does: `EventConsumer.process` on the records intake's outbox
holds for requests opened through its API, in polls of `--poll`, with the real database.

- `quiet`: P3 `security-hardening` requests, which no default rule pages;
- `paging`: P2 `incident` requests on a `k8s-247` engagement (what `bench_cpu.py` and
  `bench_intake.py` open), which the default rule pages at once; no pager is set up, so each one
  posts nothing and logs `page.not_sent`, as a fresh engagement does.

    .venv/bin/python bench/bench_paging.py [--events 2000] [--poll 500]
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

import httpx
from aiokafka import ConsumerRecord
from bench_cpu import TRACEPARENT, cpu_seconds, records
from sqlalchemy import text
from support import Infrastructure, load_average, progress, report_measurement

from k8sops_common.auth import mint_token
from k8sops_common.migrations import migrate
from k8sops_common.service import ServiceContext, create_app
from k8sops_common.settings import DEV_JWT_SECRET, ServiceSettings
from k8sops_common.telemetry import setup_tracing
from k8sops_intake.app import DEFINITION as INTAKE

KINDS = {
    "quiet": {"category": "security-hardening", "priority": "P3"},
    "paging": {"category": "incident", "priority": "P2"},
}


OPENED_SINCE = text("SELECT id, key, payload FROM outbox WHERE topic = :topic AND id > :after ORDER BY id")


def bearer(role: str) -> dict[str, str]:
    token = mint_token(DEV_JWT_SECRET, sub="bench", roles=[role], engagements=["eng-paging"])
    return {"Authorization": f"Bearer {token}"}


async def opened_since(context: ServiceContext, after: int) -> tuple[list[ConsumerRecord[bytes, bytes]], int]:
    """The `request.opened` records in the outbox after row `after`, and the last row's id."""
    topic = context.settings.topic("request.opened")
    async with context.database.sessions() as session:
        rows = (await session.execute(OPENED_SINCE, {"topic": topic, "after": after})).all()
    messages = [(row.key.encode(), row.payload.encode()) for row in rows]
    return records(topic, messages, TRACEPARENT), rows[-1].id


async def measure(infra: Infrastructure, args: argparse.Namespace) -> dict[str, Any]:
    setup_tracing("bench-paging", None)  # the tracer the services run with when no OTLP endpoint is set
    settings = ServiceSettings(
        service_name="intake",
        database_url=infra.database_url,
        db_schema=f"bench_paging_{uuid.uuid4().hex[:8]}",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        log_level="WARNING",
    )
    await asyncio.to_thread(migrate, "k8sops_intake.migrations", settings.database_url, settings.schema_name)
    app = create_app(INTAKE, settings)  # no lifespan: the consumer runs only when this bench calls it
    context: ServiceContext = app.state.context
    assert context.consumer is not None
    consumer = context.consumer
    requester = bearer("k8s-ops.requester")
    load_before = load_average()
    figures: dict[str, float] = {}
    last_id = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://intake") as client:
        engagement = {"id": "eng-paging", "name": "paging", "tier": "k8s-247", "timezone": "Asia/Dhaka"}
        (await client.post("/v1/engagements", json=engagement, headers=bearer("k8s-ops.senior"))).raise_for_status()
        for kind, fields in KINDS.items():
            progress(f"opening {args.poll + args.events} {kind} requests")
            body = {"engagement_id": "eng-paging", "title": "cpu", **fields}
            for _ in range(args.poll + args.events):
                (await client.post("/v1/requests", json=body, headers=requester)).raise_for_status()
            polls, last_id = await opened_since(context, last_id)
            await consumer.process(polls[: args.poll])  # warm-up: statement caches, pool

            async def consume(timed: list[ConsumerRecord[bytes, bytes]] = polls[args.poll :]) -> None:
                for start in range(0, len(timed), args.poll):
                    await consumer.process(timed[start : start + args.poll])

            seconds = await cpu_seconds(consume)
            figures[f"{kind}_consumer_cpu_us_per_request_opened"] = round(1e6 * seconds / args.events, 1)
    await context.database.dispose()
    return {
        "events": args.events,
        "poll": args.poll,
        "embedded": infra.embedded,
        "load_avg_1m_before": load_before,
        "load_avg_1m_after": load_average(),
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000, help="request.opened events to time per kind")
    parser.add_argument("--poll", type=int, default=500, help="records per consumer poll (one transaction)")
    report_measurement(measure, parser.parse_args())


if __name__ == "__main__":
    main()
