"""What an outbox relay costs while it has nothing to send: CPU per second of this process (relay
alone, `time.process_time`) and of the PostgreSQL server's processes (/proc), over a window.

Two states: before the relay ever sent anything (only the backlog timer and the idle poll wake it)
and after one send (its broker read-back, `outbox_verify_interval_s`, runs every second from then on).
The server's figure assumes the embedded PostgreSQL, which serves nothing else during the run.
Then a trickle: one row per transaction at `--rate` a second, and the process's CPU per row (the
writer's included) and how many batches the relay published them in. Last, the relay's own CPU per
batch of one row: a relay that is not running publishes `--batches` single rows by `publish_batch`,
timed around that call alone (the row's insert is outside it; the first, which starts the producer, untimed).

    .venv/bin/python bench/bench_relay_idle.py [--seconds 10] [--rows 500] [--rate 100] [--batches 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from typing import Any

from bench_bus import migrated_database
from sqlalchemy import text
from support import Infrastructure, load_average, progress, report_measurement, wait_until

from k8sops_common.bus import Outbox, OutboxRelay
from k8sops_common.bus.admin import all_topic_names, ensure_topics
from k8sops_common.db import Database
from k8sops_common.events.catalog import RequestOpenedV1
from k8sops_common.events.envelope import utc_now
from k8sops_common.settings import ServiceSettings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def server_pids(database: Database) -> list[int]:
    async with database.sessions() as session:
        return [row.pid for row in await session.execute(text("SELECT pid FROM pg_stat_activity"))]


async def idle_window(database: Database, seconds: float) -> dict[str, float]:
    pids = await server_pids(database)
    server_before = sum(process_cpu_s(pid) for pid in pids)
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    server = sum(process_cpu_s(pid) for pid in pids) - server_before
    return {"relay_cpu_ms_per_s": round(cpu / wall * 1000, 2), "postgres_cpu_ms_per_s": round(server / wall * 1000, 2)}


async def measure(infra: Infrastructure, args: argparse.Namespace) -> dict[str, Any]:
    token = uuid.uuid4().hex[:8]
    settings = ServiceSettings(
        service_name="intake",
        database_url=infra.database_url,
        db_schema=f"bench_idle_{token}",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        topic_prefix=f"bench.{token}.",
        log_level="WARNING",
    )
    await ensure_topics(infra.kafka_bootstrap_servers, all_topic_names(settings.topic_prefix))
    database = await migrated_database(settings)
    relay = OutboxRelay(settings, database)
    load_before = load_average()
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(2)  # connections opened, first rounds done
        progress(f"never sent: {args.seconds} s idle")
        never_sent = await idle_window(database, args.seconds)
        async with database.unit_of_work() as session:
            await Outbox(settings).add(session, opened("idle"))
        await wait_until(lambda: relay_idle(relay), interval_s=0.1, timeout_s=60)
        await asyncio.sleep(2)  # the verifier's consumer started
        progress(f"after one send: {args.seconds} s idle")
        after_send = await idle_window(database, args.seconds)
        progress(f"trickle: {args.rows} rows at {args.rate}/s")
        trickled = await trickle(settings, database, relay, args.rows, args.rate)
    finally:
        await relay.stop()
        await asyncio.wait_for(task, 10)
    try:
        progress(f"{args.batches} batches of one row")
        per_batch = await batches_of_one(settings, database, args.batches)
    finally:
        await database.dispose()
    return {
        "benchmark": "relay_idle",
        "seconds": args.seconds,
        "embedded": infra.embedded,
        "load_avg_1m_before": load_before,
        "load_avg_1m_after": load_average(),
        **{f"never_sent_{name}": value for name, value in never_sent.items()},
        **{f"after_send_{name}": value for name, value in after_send.items()},
        **trickled,
        **per_batch,
    }


def opened(request_id: str) -> RequestOpenedV1:
    return RequestOpenedV1(
        request_id=request_id,
        engagement_id="eng",
        category="incident",
        priority="P3",
        title="idle relay",
        opened_at=utc_now(),
        opened_by="bench",
    )


async def trickle(
    settings: ServiceSettings, database: Database, relay: OutboxRelay, rows: int, rate: float
) -> dict[str, float]:
    outbox = Outbox(settings)
    wall, cpu = time.perf_counter(), time.process_time()
    for number in range(rows):
        async with database.unit_of_work() as session:
            await outbox.add(session, opened(f"trickle-{number}"))
        await asyncio.sleep(1 / rate)
    await wait_until(lambda: relay_idle(relay), interval_s=0.01, timeout_s=60)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    async with database.sessions() as session:
        # Each batch marks its rows in one transaction, so with one `now()`.
        batches = await session.scalar(text("SELECT count(DISTINCT sent_at) FROM outbox"))
    return {
        "trickle_rows": rows,
        "trickle_seconds": round(wall, 2),
        "trickle_cpu_us_per_row": round(cpu / rows * 1e6, 1),
        "trickle_batches": int(batches or 0) - 1,  # less the one send before
    }


async def batches_of_one(settings: ServiceSettings, database: Database, batches: int) -> dict[str, float]:
    outbox, relay = Outbox(settings), OutboxRelay(settings, database)
    cpu = 0.0
    try:
        for number in range(-1, batches):  # the first starts the producer: not timed
            async with database.unit_of_work() as session:
                await outbox.add(session, opened(f"single-{number}"))
            started = time.process_time()
            sent = await relay.publish_batch()
            if number >= 0:
                cpu += time.process_time() - started
            assert sent == 1, sent
    finally:
        await relay.stop()
    return {"batches_of_one": batches, "relay_cpu_us_per_batch_of_one": round(cpu / batches * 1e6, 1)}


async def relay_idle(relay: OutboxRelay) -> bool:
    return await relay.backlog() == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each idle window (default 10)")
    parser.add_argument("--rows", type=int, default=500, help="rows of the trickle (default 500)")
    parser.add_argument("--rate", type=float, default=100.0, help="trickle rows per second (default 100)")
    parser.add_argument("--batches", type=int, default=300, help="batches of one row, timed alone (default 300)")
    report_measurement(measure, parser.parse_args())


if __name__ == "__main__":
    main()
