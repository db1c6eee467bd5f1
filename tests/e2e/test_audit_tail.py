"""A superuser cuts the newest audit entries and the checkpoint rows that vouched for them: the
service reports it (readyz, metric), numbers new entries after the cut, and `verify` with a third
party's checkpoint file fails where the database alone looks consistent."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from k8sops_common.bus.outbox import Outbox

from .conftest import StartService
from .test_audit_burst import audit_event

Eventually = Callable[..., Awaitable[Any]]


async def produce(isolation: Any, count: int) -> None:
    outbox = Outbox(await isolation.settings("upgrade-runner"))
    producer = AIOKafkaProducer(bootstrap_servers=isolation.bootstrap)
    await producer.start()
    try:
        for number in range(count):
            envelope = outbox.envelope(audit_event(number), event_id=str(uuid.uuid4()))
            await producer.send_and_wait(
                f"{isolation.topic_prefix}audit.event", envelope.model_dump_json().encode(), key=b"k"
            )
    finally:
        await producer.stop()


async def as_superuser_without_triggers(isolation: Any, statement: str) -> None:
    connection = await asyncpg.connect(isolation.admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("SET session_replication_role = replica")
        await connection.execute(statement)
    finally:
        await connection.close()


async def run_verify(isolation: Any, *args: str) -> tuple[int, dict[str, Any]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "k8sops_audit", "verify", *args,
        env={**os.environ, **isolation.service_env("audit")},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await process.communicate()
    assert stdout, stderr.decode()[-3000:]
    return int(process.returncode or 0), json.loads(stdout)


def read_if_there(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def test_a_cut_tail_is_reported_never_renumbered_and_fails_verify_against_a_witness(
    isolation: Any, start_service: StartService, auditor_headers: dict[str, str], tmp_path: Path, eventually: Eventually
) -> None:
    schema = isolation.schema_for("audit")
    checkpoint_file = tmp_path / "audit-checkpoints.jsonl"
    env = {
        "K8SOPS_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit-key.pem"),
        "K8SOPS_AUDIT_CHECKPOINT_INTERVAL_S": "600",  # only the every-N-entries rule signs here
        "K8SOPS_AUDIT_CHECKPOINT_EVERY_ENTRIES": "10",
    }
    audit = await start_service("audit", env=env)

    async def seqs() -> list[int]:
        return [row["seq"] for row in await isolation.fetch(f"SELECT seq FROM {schema}.audit_entries ORDER BY seq")]

    await produce(isolation, 25)
    await eventually(seqs, lambda found: len(found) == 25, timeout_s=60)
    # The file appears with the first checkpoint, which may come a little after the entries.
    await eventually(lambda: asyncio.to_thread(read_if_there, checkpoint_file), lambda text: text.count("\n") >= 1)
    audit.stop()  # signs the head once more on the way out
    witness = [json.loads(line) for line in checkpoint_file.read_text().splitlines()]
    assert witness[-1]["head_sequence"] == 25
    published = await isolation.fetch(
        f"SELECT count(*) AS n FROM {schema}.outbox WHERE topic = $1", f"{isolation.topic_prefix}audit.checkpoint"
    )
    assert published[0]["n"] == len(witness)
    third_party = tmp_path / "kept-by-a-witness.jsonl"
    third_party.write_text(checkpoint_file.read_text())

    # The cut: entries after 12 and every checkpoint row above 12, the last one included.
    await as_superuser_without_triggers(isolation, f"DELETE FROM {schema}.audit_entries WHERE seq > 12")
    await as_superuser_without_triggers(isolation, f"DELETE FROM {schema}.audit_checkpoints WHERE head_sequence > 12")
    status, report = await run_verify(isolation)
    assert status == 0 and report["ok"] is True, "the database alone cannot tell: that is why witnesses exist"
    status, report = await run_verify(isolation, "--checkpoints", str(third_party))
    assert status == 1 and report["ok"] is False, report
    assert report["first_mismatch"]["kind"] == "head", report

    audit.start()
    async with httpx.AsyncClient(base_url=audit.url, timeout=10) as client:

        async def readyz() -> httpx.Response:
            try:
                return await client.get("/readyz")
            except httpx.TransportError as error:
                return httpx.Response(599, text=str(error))

        not_ready = await eventually(readyz, lambda response: response.status_code == 503, timeout_s=60)
        assert "audit chain" in not_ready.text and "25" in not_ready.text, not_ready.text
        metrics = (await client.get("/metrics")).text
        assert "k8sops_audit_chain_tampered 1.0" in metrics

        await produce(isolation, 3)
        found = await eventually(seqs, lambda found: len(found) == 15, timeout_s=60)
        assert found[-3:] == [26, 27, 28], "a sequence number below the signed head was used again"
        served = await client.get("/v1/audit/verify", headers=auditor_headers)
        assert served.status_code == 200 and served.json()["ok"] is False, served.text
    audit.stop()
    signed_after_the_cut = [json.loads(line) for line in checkpoint_file.read_text().splitlines()][len(witness) :]
    assert signed_after_the_cut, "the head after the cut was not signed"
    assert all(item["head_sequence"] > 25 for item in signed_after_the_cut), "a shortened head was signed"


async def test_a_tail_cut_while_the_service_runs_is_caught_at_the_next_append(
    isolation: Any, start_service: StartService, tmp_path: Path, eventually: Eventually
) -> None:
    schema = isolation.schema_for("audit")
    checkpoint_file = tmp_path / "audit-checkpoints.jsonl"
    env = {
        "K8SOPS_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit-key.pem"),
        "K8SOPS_AUDIT_CHECKPOINT_INTERVAL_S": "600",
        "K8SOPS_AUDIT_CHECKPOINT_EVERY_ENTRIES": "10",
    }
    audit = await start_service("audit", env=env)

    async def seqs() -> list[int]:
        return [row["seq"] for row in await isolation.fetch(f"SELECT seq FROM {schema}.audit_entries ORDER BY seq")]

    def last_signed() -> int:
        lines = checkpoint_file.read_text().splitlines() if checkpoint_file.exists() else []
        return int(json.loads(lines[-1])["head_sequence"]) if lines else 0

    await produce(isolation, 12)
    await eventually(seqs, lambda found: len(found) == 12, timeout_s=60)
    await eventually(lambda: asyncio.to_thread(last_signed), lambda signed: signed >= 10, timeout_s=60)
    signed = last_signed()
    # Only the entries go (the checkpoint rows stay): the running service holds the chain to its file.
    await as_superuser_without_triggers(isolation, f"DELETE FROM {schema}.audit_entries WHERE seq > 5")
    await produce(isolation, 2)
    found = await eventually(seqs, lambda found: len(found) == 7, timeout_s=60)
    assert found[-2:] == [signed + 1, signed + 2], found
    async with httpx.AsyncClient(base_url=audit.url, timeout=10) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and f"6..{signed} are missing" in ready.text, ready.text
        assert "k8sops_audit_missing_entries " + f"{float(signed - 5)}" in (await client.get("/metrics")).text
