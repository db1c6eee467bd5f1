"""POST /v1/requests through the real intake process: sustained throughput and latency percentiles,
beside two floors measured in the same run against the same database:
- raw same statements: what the endpoint's transaction sends (read the engagement, insert the
  request, insert its two outbox rows, look up webhook subscribers), issued raw through asyncpg
  in one transaction each, at the same concurrency: the rate a perfect server could reach;
- raw insert: one single-row INSERT per transaction (the floor of any write).

    .venv/bin/python bench/bench_intake.py [--requests 3000] [--concurrency 16]

Goals of issue 13: at least 1,000 requests/s at p99 <= 50 ms, and at least 35 % of the raw
same-statements rate. Intake runs with K8SOPS_HTTP_WORKERS (default: the cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from support import Infrastructure, load_average, per_second, progress, report_measurement, sampled

from k8sops_common.auth import mint_token
from k8sops_common.bus.admin import all_topic_names, ensure_topics
from k8sops_common.migrations import migrate
from k8sops_common.settings import DEV_JWT_SECRET, ServiceSettings
from k8sops_platform.embedded import free_port

ENGAGEMENT = "eng-bench"
SCHEMA_PREFIX = "bench_intake"
STARTED = "Application startup complete"
# The statements of POST /v1/requests' transaction, as intake sends them (SQLAlchemy's echo): the
# request's INSERT checks the engagement, both outbox rows go in one INSERT, the deliveries in another.
INSERT_REQUEST = (
    "INSERT INTO {schema}.requests (id, engagement_id, cluster_id, category, priority, title, description, "
    "status, opened_by, opened_at, updated_at, decline_reason, decline_pointer) "
    "SELECT $1, $2, NULL, 'incident', 'P2', $3, '', 'opened', 'bench', $4, $4, NULL, NULL "
    "WHERE EXISTS (SELECT id FROM {schema}.engagements WHERE id = $2) RETURNING id"
)
INSERT_OUTBOX = (
    "INSERT INTO {schema}.outbox (event_id, topic, key, payload, traceparent, tracestate) "
    "VALUES ($1, $2, $3, $4, $5, NULL), ($6, $7, $8, $9, $5, NULL)"
)
INSERT_DELIVERIES = (
    "INSERT INTO {schema}.webhook_deliveries (endpoint_id, message_id, event_type, payload, status, attempts, "
    "next_attempt_at, created_at) SELECT id, concat('msg_', replace(gen_random_uuid()::text, '-', '')), "
    "$3, $4, 'pending', 0, $5, $5 FROM {schema}.webhook_endpoints WHERE engagement_id = $1 AND enabled IS true "
    "AND event_types @> $2::jsonb"
)
STATEMENTS_PER_TRANSACTION = 3
GOAL_REQUESTS_PER_S = 1_000
GOAL_P99_MS = 50.0
GOAL_SHARE_OF_RAW_STATEMENTS = 0.35


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 3)


def latency_figures(prefix: str, samples: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": percentile(samples, 0.50),
        f"{prefix}_p99_ms": percentile(samples, 0.99),
        f"{prefix}_mean_ms": round(statistics.fmean(samples) * 1000, 3),
    }


async def closed_loop(count: int, concurrency: int, one: Any) -> tuple[float, list[float]]:
    """`concurrency` workers issue `count` operations back to back; returns elapsed seconds and latencies."""
    latencies: list[float] = []
    remaining = iter(range(count))

    async def worker() -> None:
        for index in remaining:
            started = time.perf_counter()
            await one(index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def start_intake(infra: Infrastructure, schema: str, prefix: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": infra.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "K8SOPS_DB_SCHEMA": schema,
        "K8SOPS_TOPIC_PREFIX": prefix,
        "K8SOPS_HTTP_PORT": str(port),
        # The default level, as in production: the access log is part of what a request costs.
        "K8SOPS_LOG_LEVEL": "INFO",
    }
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "k8sops_intake", "serve"], env=env, stdout=sink, stderr=sink)


async def wait_ready(url: str, log: Path, workers: int) -> None:
    """Ready, and every worker process started (any one of them answers /readyz)."""
    async with httpx.AsyncClient() as client:
        for _ in range(1200):
            try:
                ready = (await client.get(f"{url}/readyz")).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready and (await asyncio.to_thread(log.read_text, errors="replace")).count(STARTED) >= workers:
                return
            await asyncio.sleep(0.1)
    raise TimeoutError("intake did not become ready")


async def measure_api(url: str, requests: int, concurrency: int) -> dict[str, float]:
    def bearer(role: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {mint_token(DEV_JWT_SECRET, sub='bench', roles=[role], engagements=[ENGAGEMENT])}"
        }

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        engagement = {"id": ENGAGEMENT, "name": "bench", "tier": "k8s-247", "timezone": "Asia/Dhaka"}
        (await client.post("/v1/engagements", json=engagement, headers=bearer("k8s-ops.senior"))).raise_for_status()
        requester = bearer("k8s-ops.requester")

        async def open_one(index: int) -> None:
            body = {"engagement_id": ENGAGEMENT, "category": "incident", "priority": "P2", "title": f"bench {index}"}
            response = await client.post("/v1/requests", json=body, headers=requester)
            if response.status_code != 201:
                raise AssertionError(f"POST /v1/requests answered {response.status_code}: {response.text}")

        await closed_loop(min(200, requests), concurrency, open_one)  # warm-up: pools, JIT caches
        elapsed, latencies = await closed_loop(requests, concurrency, open_one)
    return {"api_requests_per_s": per_second(requests, elapsed), **latency_figures("api", latencies)}


async def measure_raw_insert(database_url: str, schema: str, rows: int, concurrency: int) -> dict[str, float]:
    """The floor: one INSERT per transaction over a pool, with no HTTP, auth, outbox or audit."""
    pool = await asyncpg.create_pool(
        database_url.replace("postgresql+asyncpg://", "postgresql://"), min_size=concurrency, max_size=concurrency
    )
    try:
        await pool.execute(
            f"CREATE TABLE {schema}.raw_requests (id text PRIMARY KEY, title text, opened_at timestamptz)"
        )

        async def insert_one(index: int) -> None:
            await pool.execute(
                f"INSERT INTO {schema}.raw_requests VALUES ($1, $2, now())", f"raw-{index}", f"bench {index}"
            )

        elapsed, latencies = await closed_loop(rows, concurrency, insert_one)
    finally:
        await pool.close()
    return {"raw_insert_rows_per_s": per_second(rows, elapsed), **latency_figures("raw_insert", latencies)}


async def measure_raw_statements(database_url: str, schema: str, count: int, concurrency: int) -> dict[str, float]:
    """The endpoint's statements, raw: no HTTP, JSON, auth, ORM or tracing; payloads of the same size."""
    pool = await asyncpg.create_pool(
        database_url.replace("postgresql+asyncpg://", "postgresql://"), min_size=concurrency, max_size=concurrency
    )
    statements = [statement.format(schema=schema) for statement in (INSERT_REQUEST, INSERT_OUTBOX, INSERT_DELIVERIES)]
    insert_request, insert_outbox, insert_deliveries = statements
    payload = "x" * 700  # a request.opened or audit.event CloudEvent is 600 to 800 bytes
    traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    async def one_transaction(index: int) -> None:
        request_id = f"req-raw-{index:08d}"
        now = datetime.now(UTC)
        async with pool.acquire() as connection, connection.transaction():
            if await connection.fetchval(insert_request, request_id, ENGAGEMENT, f"bench {index}", now) is None:
                raise AssertionError(f"engagement {ENGAGEMENT} missing: the floor would insert no request")
            opened = (str(uuid.uuid4()), "request.opened", request_id, payload)
            audit = (str(uuid.uuid4()), "audit.event", ENGAGEMENT, payload)
            await connection.execute(insert_outbox, *opened, traceparent, *audit)
            subscribed = (ENGAGEMENT, '["request.opened"]')
            await connection.execute(insert_deliveries, *subscribed, "request.opened", payload, now)

    try:
        elapsed, latencies = await closed_loop(count, concurrency, one_transaction)
    finally:
        await pool.close()
    return {"raw_statements_per_s": per_second(count, elapsed), **latency_figures("raw_statements", latencies)}


async def measure(infra: Infrastructure, args: argparse.Namespace) -> dict[str, Any]:
    token = uuid.uuid4().hex[:8]
    schema, prefix = f"{SCHEMA_PREFIX}_{token}", f"bench.{token}."
    await ensure_topics(infra.kafka_bootstrap_servers, all_topic_names(prefix))
    await asyncio.to_thread(migrate, "k8sops_intake.migrations", infra.database_url, schema)
    port = free_port()
    workers = ServiceSettings().http_workers
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as workdir:
        log = Path(workdir) / "intake.log"
        process = start_intake(infra, schema, prefix, port, log)
        try:
            await wait_ready(f"http://127.0.0.1:{port}", log, workers)
            progress(f"timing {args.requests} POST /v1/requests at concurrency {args.concurrency}")
            with sampled(process.pid, args.profile):
                figures = await measure_api(f"http://127.0.0.1:{port}", args.requests, args.concurrency)
        finally:
            process.terminate()
            process.wait(10)
    progress(f"timing {args.requests} raw same-statement transactions at concurrency {args.concurrency}")
    figures |= await measure_raw_statements(infra.database_url, schema, args.requests, args.concurrency)
    progress(f"timing {args.requests} raw asyncpg inserts at concurrency {args.concurrency}")
    figures |= await measure_raw_insert(infra.database_url, schema, args.requests, args.concurrency)
    figures["api_vs_raw_statements"] = round(figures["api_requests_per_s"] / figures["raw_statements_per_s"], 3)
    figures["api_vs_raw_insert"] = round(figures["api_requests_per_s"] / figures["raw_insert_rows_per_s"], 3)
    figures["meets_1000_per_s_at_p99_50_ms"] = (
        figures["api_requests_per_s"] >= GOAL_REQUESTS_PER_S and figures["api_p99_ms"] <= GOAL_P99_MS
    )
    figures["meets_35_percent_of_raw_statements"] = figures["api_vs_raw_statements"] >= GOAL_SHARE_OF_RAW_STATEMENTS
    return {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "http_workers": workers,
        "statements_per_transaction": STATEMENTS_PER_TRANSACTION,
        "embedded": infra.embedded,
        "load_avg_1m_before": load_before,
        "load_avg_1m_after": load_average(),
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="requests (and raw rows) to time (default 3000)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--profile", type=Path, help="py-spy's collapsed stacks of intake's workers go here")
    args = parser.parse_args()

    report_measurement(measure, args)


if __name__ == "__main__":
    main()
