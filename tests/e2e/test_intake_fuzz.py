"""A bounded property-based run (schemathesis, every check) over each service's OpenAPI document.

The bar is the server side: no input, allowed or forbidden by the document, makes a service answer
5xx (ST101). Contract findings that are not server errors do not fail the test; known ones: a
made-up `cursor` answers 422 although any string fits the document (cursors are opaque), and
sla-timer's decimal strings are documented without a pattern, so "" looks valid.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import bearer

ENGAGEMENT = "eng-fuzz"
EVERYTHING = ["k8s-ops.admin", "k8s-ops.senior", "k8s-ops.auditor"]


@pytest.mark.parametrize("service", ["intake", "sla-timer", "upgrade-runner", "cost-analyzer", "audit"])
async def test_no_input_from_the_openapi_document_makes_a_service_fail(  # type: ignore[no-untyped-def]
    start_service, tmp_path: Path, service: str
) -> None:
    process = await start_service(service)
    everything = bearer(EVERYTHING, [ENGAGEMENT], sub="fuzz@example.com")
    if service == "intake":
        # An engagement with clusters, so generated ids sometimes hit real records and deeper code runs.
        async with httpx.AsyncClient(base_url=process.url, headers=everything, timeout=10) as client:
            body = {"id": ENGAGEMENT, "name": "fuzz", "tier": "k8s-247", "timezone": "Asia/Dhaka"}
            created = await client.post("/v1/engagements", json=body)
            assert created.status_code == 201, created.text
    st = Path(sys.executable).with_name("st")
    run = await asyncio.create_subprocess_exec(
        str(st), "run", f"{process.url}/openapi.json",
        "--checks", "all",
        "--max-examples", "8",
        "--max-time", "10",
        "--seed", "20261127",
        "--request-timeout", "10",
        "--header", f"Authorization:{everything['Authorization']}",
        "--report-dir", str(tmp_path),
        cwd=tmp_path,  # schemathesis keeps its example database in the working directory
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = (await run.communicate())[0].decode()
    assert run.returncode in (0, 1) and "Tested:" in output, output[-6000:]
    assert "ST101" not in output and "Server error" not in output, output[-12000:]
