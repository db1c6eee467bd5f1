"""Chaos under load: the whole platform, six clients opening requests, and one outage after another.

    .venv/bin/python bench/chaos.py [--data-dir DIR] [--requests-per-phase N] [--settle-s S]

Starts `k8sops run`'s platform in this process (embedded PostgreSQL and Tansu, the five services,
no sandbox, on free ports unless the usual K8SOPS_*_PORT variables say otherwise) under its
supervisor, gives P4 requests a one-minute wall-clock target so some breach during the run, then,
while the load goes on: SIGKILLs each service in turn (the supervisor restarts it), SIGKILLs the
broker (memory storage: whatever was not yet consumed is gone), restarts PostgreSQL. After the
load stops it waits until the counts settle (or stop moving for --settle-s) and prints one JSON
object: per service the counts that must match and the duplicates, which must be 0, and "ok".
Progress goes to stderr. Bounded: every wait has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from k8sops_common.auth import mint_token
from k8sops_common.settings import DEV_JWT_SECRET
from k8sops_platform.cli import DATABASE, Platform
from k8sops_platform.embedded import free_port, with_database
from k8sops_platform.services import SERVICES
from k8sops_platform.supervisor import CrashLoop

ENGAGEMENT = "eng-chaos"
PRIORITIES = ("P1", "P4")  # P4 gets a one-minute target below: those breach and earn credits


def progress(message: str) -> None:
    print(f"chaos: {message}", file=sys.stderr, flush=True)


def token(sub: str, role: str) -> dict[str, str]:
    signed = mint_token(DEV_JWT_SECRET, sub=sub, roles=[role], engagements=[ENGAGEMENT], ttl_s=3600)
    return {"Authorization": f"Bearer {signed}"}


class Load:
    """Clients opening requests back to back; a refused or failed call is counted, not fatal."""

    def __init__(self, intake_url: str, clients: int = 6) -> None:
        self.intake_url = intake_url
        self.accepted = 0
        self.failed = 0
        self.answered_ids: set[str] = set()
        self._stopping = asyncio.Event()
        headers = token("chaos@customer.example", "k8s-ops.requester")
        self._tasks = [asyncio.create_task(self._client(number, headers)) for number in range(clients)]

    async def _client(self, number: int, headers: dict[str, str]) -> None:
        async with httpx.AsyncClient(base_url=self.intake_url, timeout=30, headers=headers) as client:
            sent = 0
            while not self._stopping.is_set():
                body = {
                    "engagement_id": ENGAGEMENT,
                    "cluster_id": "prod-chaos",
                    "category": "incident",
                    "priority": PRIORITIES[sent % len(PRIORITIES)],
                    "title": f"chaos client {number} request {sent}",
                }
                sent += 1
                request_id = await self._open(client, body)
                if request_id is None:
                    self.failed += 1
                else:
                    self.accepted += 1
                    self.answered_ids.add(request_id)

    async def _open(self, client: httpx.AsyncClient, body: dict[str, str]) -> str | None:
        """Retries with the same Idempotency-Key, so an answer lost in an outage never makes a second request."""
        key = str(uuid.uuid4())
        for _ in range(20):
            try:
                response = await client.post("/v1/requests", json=body, headers={"Idempotency-Key": key})
                if response.status_code in (200, 201):
                    return str(response.json()["id"])
                if response.status_code < 500:
                    progress(f"request refused: {response.status_code} {response.text[:200]}")
                    return None
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
        return None

    async def progressed(self, requests: int, timeout_s: float = 180) -> None:
        target = self.accepted + requests
        for _ in range(int(timeout_s / 0.2)):
            if self.accepted >= target:
                return
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._tasks)


async def ready(url: str, timeout_s: float = 180) -> float:
    """Seconds until `url`/readyz answers 200 (or the timeout)."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() - started < timeout_s:
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    return round(time.monotonic() - started, 1)


async def set_up(intake_url: str, sla_url: str) -> None:
    senior, admin = token("senior@provider.example", "k8s-ops.senior"), token("admin@customer.example", "k8s-ops.admin")
    async with httpx.AsyncClient(timeout=30) as client:
        engagement = {"id": ENGAGEMENT, "name": "chaos", "tier": "k8s-247", "timezone": "Asia/Dhaka"}
        (await client.post(f"{intake_url}/v1/engagements", json=engagement, headers=senior)).raise_for_status()
        cluster = {
            "id": "prod-chaos",
            "name": "prod-chaos",
            "environment": "prod",
            "api_endpoint": "https://prod-chaos.k8s.example:6443",
            "credentials_ref": "vault://k8s/prod-chaos",
            "size_band": "M",
            "workload_band": "50-200",
            "monthly_retainer_bdt": "100000000.00",  # a cap no chaos run reaches: every breach credits
        }
        clusters = f"{intake_url}/v1/engagements/{ENGAGEMENT}/clusters"
        (await client.post(clusters, json=cluster, headers=admin)).raise_for_status()
        target = {"budget_minutes": 1, "clock": "wall"}
        put = f"{sla_url}/v1/sla/policies/response-targets/k8s-247/P4"
        (await client.put(put, json=target, headers=senior)).raise_for_status()


COUNTS = """
SELECT
  (SELECT count(*) FROM intake.requests WHERE engagement_id = $1) AS requests,
  (SELECT count(*) FROM intake.requests WHERE engagement_id = $1 AND priority = 'P4') AS p4,
  (SELECT count(*) FROM sla_timer.timers WHERE engagement_id = $1) AS timers,
  (SELECT count(*) FROM sla_timer.breaches WHERE engagement_id = $1) AS breaches,
  (SELECT count(*) FROM sla_timer.credits WHERE engagement_id = $1) AS credits,
  (SELECT count(*) - count(DISTINCT request_id) FROM sla_timer.credits WHERE engagement_id = $1) AS credit_dups,
  (SELECT count(DISTINCT target_name) FROM audit.audit_entries WHERE engagement_id = $1
     AND action = 'request.open') AS audit_open,
  (SELECT count(DISTINCT target_name) FROM audit.audit_entries WHERE engagement_id = $1
     AND action = 'sla.timer.arm') AS audit_arm,
  (SELECT count(*) - count(DISTINCT (action, target_name)) FROM audit.audit_entries WHERE engagement_id = $1
     AND action IN ('request.open', 'sla.timer.arm')) AS audit_dups
"""


async def stored_request_ids(admin_url: str) -> set[str]:
    connection = await asyncpg.connect(with_database(admin_url, DATABASE))
    try:
        rows = await connection.fetch("SELECT id FROM intake.requests WHERE engagement_id = $1", ENGAGEMENT)
    finally:
        await connection.close()
    return {row["id"] for row in rows}


async def counts(admin_url: str) -> dict[str, int]:
    connection = await asyncpg.connect(with_database(admin_url, DATABASE))
    try:
        row = await connection.fetchrow(COUNTS, ENGAGEMENT)
    finally:
        await connection.close()
    assert row is not None
    return {key: int(value) for key, value in row.items()}


def settled(found: dict[str, int]) -> bool:
    n = found["requests"]
    return (
        found["timers"] == found["audit_open"] == found["audit_arm"] == n
        and found["breaches"] == found["credits"] == found["p4"]
        and found["credit_dups"] == found["audit_dups"] == 0
    )


async def settle(admin_url: str, stall_s: float) -> dict[str, int]:
    """Polls until the counts match, or they stop changing for `stall_s`."""
    last: dict[str, int] = {}
    changed_at = time.monotonic()
    while True:
        try:
            found = await counts(admin_url)
        except (OSError, asyncpg.PostgresError) as error:
            progress(f"counting failed ({error}); retrying")
            await asyncio.sleep(1)
            continue
        if found != last:
            last, changed_at = found, time.monotonic()
            progress(f"counts {found}")
        if settled(found) or time.monotonic() - changed_at > stall_s:
            return found
        await asyncio.sleep(1)


def report(
    found: dict[str, int], lost: int, load: Load, timeline: list[dict[str, Any]], crash: str | None
) -> dict[str, Any]:
    per_service = {
        "intake": {
            "requests": found["requests"],
            "answered_201_to_clients": load.accepted,
            "answered_201_but_not_stored": lost,
            "given_up_by_clients": load.failed,
        },
        "sla-timer": {
            "timers": found["timers"],
            "breaches": found["breaches"],
            "credits": found["credits"],
            "p4_requests": found["p4"],
            "duplicate_credits": found["credit_dups"],
        },
        "audit": {
            "request.open": found["audit_open"],
            "sla.timer.arm": found["audit_arm"],
            "duplicates": found["audit_dups"],
        },
    }
    return {
        **per_service,
        "requests_eq_timers_eq_audit": found["requests"]
        == found["timers"]
        == found["audit_open"]
        == found["audit_arm"],
        "credits_eq_breaches_eq_p4_requests": found["credits"] == found["breaches"] == found["p4"],
        "duplicates": found["credit_dups"] + found["audit_dups"],
        "ok": settled(found) and lost == 0 and crash is None,
        "crash_loop": crash,
        "timeline": timeline,
    }


def prepare_environment(data_dir: Path | None) -> Path:
    for spec in SERVICES:
        os.environ.setdefault(f"K8SOPS_{spec.schema.upper()}_PORT", str(free_port()))
    os.environ.setdefault("K8SOPS_BROKER_PORT", str(free_port()))
    if data_dir is None:
        # Not a 0700 folder: the embedded server runs as a user of its own when we are root.
        data_dir = Path(tempfile.mkdtemp(prefix="k8sops-chaos-"))
        data_dir.chmod(0o755)
    return data_dir


async def chaos(args: argparse.Namespace) -> dict[str, Any]:
    platform = Platform(prepare_environment(args.data_dir), with_sandbox=False, with_demo=False)
    stop = threading.Event()
    crash: list[str] = []

    def supervise() -> None:
        try:
            platform.supervise(stop)
        except CrashLoop as error:
            crash.append(str(error))

    await asyncio.to_thread(platform.start)
    supervisor = threading.Thread(target=supervise, daemon=True)
    supervisor.start()
    assert platform.postgres is not None and platform.broker is not None
    admin_url = platform.postgres.admin_url()
    intake, sla = platform.services[0].url, platform.services[1].url
    timeline: list[dict[str, Any]] = []
    try:
        await set_up(intake, sla)
        load = Load(intake)
        await load.progressed(args.requests_per_phase)
        for process in platform.services:
            progress(f"SIGKILL {process.spec.name}")
            process.kill()
            timeline.append({"killed": process.spec.name, "ready_again_after_s": await ready(process.url)})
            await load.progressed(args.requests_per_phase)
        progress("SIGKILL broker")
        platform.broker.kill()
        timeline.append({"killed": "broker", "intake_ready_again_after_s": await ready(intake)})
        await load.progressed(args.requests_per_phase)
        progress("restart PostgreSQL")
        started = time.monotonic()
        await asyncio.to_thread(platform.postgres.restart)
        timeline.append({"restarted": "postgresql", "took_s": round(time.monotonic() - started, 1)})
        await load.progressed(args.requests_per_phase)
        await load.stop()
        progress(f"load stopped after {load.accepted} accepted requests; waiting for the counts to settle")
        # The last P4 requests fall due a minute after they were opened.
        found = await settle(admin_url, args.settle_s)
        lost = len(load.answered_ids - await stored_request_ids(admin_url))
        return report(found, lost, load, timeline, crash[0] if crash else None)
    finally:
        stop.set()
        supervisor.join(10)
        await asyncio.to_thread(platform.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a new temporary folder")
    parser.add_argument("--requests-per-phase", type=int, default=150, help="accepted requests between outages")
    parser.add_argument("--settle-s", type=float, default=120, help="give up when the counts stop moving this long")
    result = asyncio.run(chaos(parser.parse_args()))
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
