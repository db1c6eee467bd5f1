"""POST /v1/requests through the real intake process: sustained throughput and latency percentiles,
beside floors measured in the same run:
- HTTP floors, served like intake (uvicorn, the same workers, loop and parser) and driven by the
  same client, body and concurrency (`intake_floors.py`): `bare` (a plain ASGI app answering a 201
  of the same size: HTTP and the client alone), `fastapi` (intake's app stack and auth dependency,
  no database), `core` (the same plus the endpoint's statements through SQLAlchemy Core); for each,
  and for intake (`api`), the CPU per request of the client, the server processes and PostgreSQL;
- raw same statements: what the endpoint's transaction sends (the request's INSERT checking the
  engagement, one two-row outbox INSERT, the deliveries' INSERT ... SELECT), raw through asyncpg in
  one transaction each, at the same concurrency: the rate a perfect server could reach;
- raw insert: one single-row INSERT per transaction (the floor of any write).

    .venv/bin/python bench/bench_intake.py [--requests 3000] [--concurrency 16]

Goals of issue 13: at least 1,000 requests/s at p99 <= 50 ms, and at least 35 % of the raw
same-statements rate. Intake runs with K8SOPS_HTTP_WORKERS (default: the cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from intake_floors import (
    INSERT_DELIVERIES,
    INSERT_OUTBOX,
    INSERT_REQUEST,
    KINDS,
    PAYLOAD,
    STARTED,
    LeanClient,
    TreeCpu,
    start_floor,
)
from support import Infrastructure, load_average, per_second, progress, report_measurement, sampled

from k8sops_common.auth import mint_token
from k8sops_common.bus.admin import all_topic_names, ensure_topics
from k8sops_common.migrations import migrate
from k8sops_common.settings import DEV_JWT_SECRET, ServiceSettings
from k8sops_platform.embedded import free_port

ENGAGEMENT = "eng-bench"
SCHEMA_PREFIX = "bench_intake"
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


def service_env(infra: Infrastructure, schema: str, prefix: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": infra.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "K8SOPS_DB_SCHEMA": schema,
        "K8SOPS_TOPIC_PREFIX": prefix,
        "K8SOPS_HTTP_PORT": str(port),
        # The default level, as in production: the access log is part of what a request costs.
        "K8SOPS_LOG_LEVEL": "INFO",
    }


def start_server(kind: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    if kind != "api":
        return start_floor(kind, env, log)
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "k8sops_intake", "serve"], env=env, stdout=sink, stderr=sink)


async def wait_ready(url: str, log: Path, workers: int) -> None:
    """Ready, and every worker process started (any one of them answers /readyz; the bare floor
    answers everything with a 201)."""
    async with httpx.AsyncClient() as client:
        for _ in range(1200):
            try:
                ready = (await client.get(f"{url}/readyz")).status_code in (200, 201)
            except httpx.HTTPError:
                ready = False
            if ready and (await asyncio.to_thread(log.read_text, errors="replace")).count(STARTED) >= workers:
                return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not become ready")


def bearer(role: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {mint_token(DEV_JWT_SECRET, sub='bench', roles=[role], engagements=[ENGAGEMENT])}"
    }


async def create_engagement(url: str) -> None:
    engagement = {"id": ENGAGEMENT, "name": "bench", "tier": "k8s-247", "timezone": "Asia/Dhaka"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        (await client.post("/v1/engagements", json=engagement, headers=bearer("k8s-ops.senior"))).raise_for_status()


async def timed(
    name: str, one: Callable[[int], Awaitable[None]], args: argparse.Namespace, server: int, postgres: int
) -> dict[str, float]:
    """Rate and latencies of `one` after a warm-up, and the CPU per request of the client (this
    process), the server's processes and PostgreSQL while it ran."""
    await closed_loop(min(200, args.requests), args.concurrency, one)  # warm-up: pools, caches
    client_cpu, server_cpu, postgres_cpu = time.process_time(), TreeCpu(server), TreeCpu(postgres)
    elapsed, latencies = await closed_loop(args.requests, args.concurrency, one)
    per_request = {
        f"{name}_client_cpu_ms_per_request": time.process_time() - client_cpu,
        f"{name}_server_cpu_ms_per_request": server_cpu.spent(),
        f"{name}_postgres_cpu_ms_per_request": postgres_cpu.spent(),
    }
    return {
        f"{name}_requests_per_s": per_second(args.requests, elapsed),
        **latency_figures(name, latencies),
        **{figure: round(1000 * seconds / args.requests, 3) for figure, seconds in per_request.items()},
    }


async def time_posts(kind: str, port: int, args: argparse.Namespace, server: int, postgres: int) -> dict[str, float]:
    """The same body and concurrency for intake and every floor, from httpx (`<kind>_...`, the
    bench's client) and from the lean client (`<kind>_lean_...`)."""
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    requester = bearer("k8s-ops.requester")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits) as client:

        async def open_one(index: int) -> None:
            body = {"engagement_id": ENGAGEMENT, "category": "incident", "priority": "P2", "title": f"bench {index}"}
            response = await client.post("/v1/requests", json=body, headers=requester)
            if response.status_code != 201:
                raise AssertionError(f"{kind}: POST /v1/requests answered {response.status_code}: {response.text}")

        figures = await timed(kind, open_one, args, server, postgres)
    body = {"engagement_id": ENGAGEMENT, "category": "incident", "priority": "P2", "title": "bench 0000"}
    lean = LeanClient("127.0.0.1", port, requester, json.dumps(body).encode())
    await lean.open(args.concurrency)
    progress(f"the same with the lean client ({kind})")
    try:
        return figures | await timed(f"{kind}_lean", lean.post, args, server, postgres)
    finally:
        await lean.close()


async def postmaster_pid(database_url: str) -> int:
    """PostgreSQL's postmaster: the parent of every backend serving the bench."""
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        parent = psutil.Process(await connection.fetchval("SELECT pg_backend_pid()")).parent()
    finally:
        await connection.close()
    if parent is None:
        raise RuntimeError("PostgreSQL's backend has no parent process")
    return parent.pid


async def measure_server(
    kind: str, infra: Infrastructure, schema: str, prefix: str, args: argparse.Namespace
) -> dict[str, float]:
    """Starts intake (`api`) or a floor, times the POSTs against it, stops it."""
    port, workers = free_port(), ServiceSettings().http_workers
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as workdir:
        log = Path(workdir) / f"{kind}.log"
        process = start_server(kind, service_env(infra, schema, prefix, port), log)
        try:
            await wait_ready(url, log, workers)
            if kind == "api":
                await create_engagement(url)
            progress(f"timing {args.requests} POST /v1/requests ({kind}) at concurrency {args.concurrency}")
            postgres = await postmaster_pid(infra.database_url)
            with sampled(process.pid, args.profile if kind == "api" else None):
                return await time_posts(kind, port, args, process.pid, postgres)
        finally:
            process.terminate()
            process.wait(10)


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
    traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    async def one_transaction(index: int) -> None:
        request_id = f"req-raw-{index:08d}"
        now = datetime.now(UTC)
        async with pool.acquire() as connection, connection.transaction():
            if await connection.fetchval(insert_request, request_id, ENGAGEMENT, f"bench {index}", now) is None:
                raise AssertionError(f"engagement {ENGAGEMENT} missing: the floor would insert no request")
            opened = (str(uuid.uuid4()), "request.opened", request_id, PAYLOAD)
            audit = (str(uuid.uuid4()), "audit.event", ENGAGEMENT, PAYLOAD)
            await connection.execute(insert_outbox, *opened, traceparent, *audit)
            subscribed = (ENGAGEMENT, '["request.opened"]')
            await connection.execute(insert_deliveries, *subscribed, "request.opened", PAYLOAD, now)

    try:
        elapsed, latencies = await closed_loop(count, concurrency, one_transaction)
    finally:
        await pool.close()
    return {"raw_statements_per_s": per_second(count, elapsed), **latency_figures("raw_statements", latencies)}


def ratios(figures: dict[str, float]) -> dict[str, float | bool]:
    """Where the throughput goes between HTTP alone and the endpoint, per client, and the goals."""
    derived: dict[str, float | bool] = {}
    for client in ("", "_lean"):
        rate = {kind: figures[f"{kind}{client}_requests_per_s"] for kind in ("api", *KINDS)}
        for numerator, denominator in (("fastapi", "bare"), ("core", "fastapi"), ("api", "core"), ("api", "bare")):
            ratio = rate[numerator] / rate[denominator]
            derived[f"{numerator}{client}_vs_{denominator}{client}"] = round(ratio, 3)
        for kind in ("api", *KINDS):
            goal = rate[kind] >= GOAL_REQUESTS_PER_S and figures[f"{kind}{client}_p99_ms"] <= GOAL_P99_MS
            derived[f"{kind}{client}_meets_1000_per_s_at_p99_50_ms"] = goal
        derived[f"api{client}_vs_raw_statements"] = round(rate["api"] / figures["raw_statements_per_s"], 3)
        derived[f"bare{client}_vs_raw_statements"] = round(rate["bare"] / figures["raw_statements_per_s"], 3)
    derived["api_vs_raw_insert"] = round(figures["api_requests_per_s"] / figures["raw_insert_rows_per_s"], 3)
    derived["meets_35_percent_of_raw_statements"] = derived["api_vs_raw_statements"] >= GOAL_SHARE_OF_RAW_STATEMENTS
    return derived


async def measure(infra: Infrastructure, args: argparse.Namespace) -> dict[str, Any]:
    token = uuid.uuid4().hex[:8]
    schema, prefix = f"{SCHEMA_PREFIX}_{token}", f"bench.{token}."
    await ensure_topics(infra.kafka_bootstrap_servers, all_topic_names(prefix))
    await asyncio.to_thread(migrate, "k8sops_intake.migrations", infra.database_url, schema)
    load_before = load_average()
    figures: dict[str, float] = {}
    # intake first: it creates the engagement the `core` floor's statements check.
    for kind in ("api", *KINDS):
        figures |= await measure_server(kind, infra, schema, prefix, args)
    progress(f"timing {args.requests} raw same-statement transactions at concurrency {args.concurrency}")
    figures |= await measure_raw_statements(infra.database_url, schema, args.requests, args.concurrency)
    progress(f"timing {args.requests} raw asyncpg inserts at concurrency {args.concurrency}")
    figures |= await measure_raw_insert(infra.database_url, schema, args.requests, args.concurrency)
    return {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "http_workers": ServiceSettings().http_workers,
        "statements_per_transaction": STATEMENTS_PER_TRANSACTION,
        "embedded": infra.embedded,
        "load_avg_1m_before": load_before,
        "load_avg_1m_after": load_average(),
        **figures,
        **ratios(figures),
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
