"""A bounded property-based fuzz run (schemathesis) over intake's OpenAPI document: no 5xx, ever."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx

from .conftest import bearer

ENGAGEMENT = "eng-fuzz"


async def test_no_input_from_the_openapi_document_makes_intake_fail(start_service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    intake = await start_service("intake")
    # An engagement with clusters, so generated ids sometimes hit real records and deeper code runs.
    everything = bearer(["k8s-ops.admin", "k8s-ops.senior"], [ENGAGEMENT], sub="fuzz@example.com")
    async with httpx.AsyncClient(base_url=intake.url, headers=everything, timeout=10) as client:
        created = await client.post(
            "/v1/engagements", json={"id": ENGAGEMENT, "name": "fuzz", "tier": "k8s-247", "timezone": "Asia/Dhaka"}
        )
        assert created.status_code == 201, created.text
    st = Path(sys.executable).with_name("st")
    process = await asyncio.create_subprocess_exec(
        str(st), "run", f"{intake.url}/openapi.json",
        "--checks", "not_a_server_error",
        "--max-examples", "12",
        "--max-time", "90",
        "--seed", "20250601",
        "--request-timeout", "10",
        "--header", f"Authorization:{everything['Authorization']}",
        "--report-dir", str(tmp_path),
        cwd=tmp_path,  # schemathesis keeps its example database in the working directory
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()[-6000:]
