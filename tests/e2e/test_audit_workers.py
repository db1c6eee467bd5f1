"""Audit served by two worker processes (`K8SOPS_HTTP_WORKERS=2`): both ingest into one chain, one of
them signs at a time, and the checkpoint file they share only ever grows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .conftest import StartService
from .test_audit_tail import produce, read_if_there, run_verify
from .test_http_workers import spawned_workers

Eventually = Callable[..., Awaitable[Any]]


async def test_two_audit_workers_keep_one_chain_one_key_and_a_growing_checkpoint_file(
    isolation: Any, start_service: StartService, tmp_path: Path, eventually: Eventually
) -> None:
    schema = isolation.schema_for("audit")
    checkpoint_file = tmp_path / "audit-checkpoints.jsonl"
    env = {
        "K8SOPS_HTTP_WORKERS": "2",
        "K8SOPS_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit-key.pem"),
        "K8SOPS_AUDIT_CHECKPOINT_INTERVAL_S": "600",  # only the every-N-entries rule signs here
        "K8SOPS_AUDIT_CHECKPOINT_EVERY_ENTRIES": "10",
    }
    audit = await start_service("audit", env=env, wait=False)
    # Every worker imports the whole service again (spawn): slow on a loaded machine.
    await asyncio.to_thread(audit.wait_ready, 150)
    assert len(spawned_workers(audit)) == 2

    async def seqs() -> list[int]:
        return [row["seq"] for row in await isolation.fetch(f"SELECT seq FROM {schema}.audit_entries ORDER BY seq")]

    await produce(isolation, 30)
    await eventually(seqs, lambda found: found == list(range(1, 31)), timeout_s=90)
    await eventually(lambda: asyncio.to_thread(read_if_there, checkpoint_file), lambda text: text.count("\n") >= 1)
    audit.stop()  # each worker signs the head once more on the way out; the second finds it signed

    heads = [json.loads(line)["head_sequence"] for line in checkpoint_file.read_text().splitlines()]
    assert heads == sorted(set(heads)) and heads[-1] == 30, heads
    keys = await isolation.fetch(f"SELECT key_id FROM {schema}.signing_keys")
    assert len(keys) == 1, "the workers signed with different keys"
    status, report = await run_verify(isolation, "--checkpoints", str(checkpoint_file))
    assert status == 0 and report["ok"] is True and report["entries_verified"] == 30, report
