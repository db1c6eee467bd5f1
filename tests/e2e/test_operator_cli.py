"""The operator CLI (`k8sops requests|sla|audit|login`) against intake, sla-timer and audit as processes.

Commands run in-process through Typer's runner; the services are real. Every outcome has its
exit code: 0 done, 1 audit chain tampered, 3 not logged in, 4 denied, 5 not found, 6 rejected,
7 could not check (service unreachable).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from k8sops_platform.ops.commands import app
from tests.conftest import Isolation

from .conftest import StartService, bearer
from .test_first_thread import new_request, set_up_engagement

Eventually = Callable[..., Awaitable[Any]]
COMMANDS = [
    ["login"],
    ["requests", "list"],
    ["requests", "show"],
    ["requests", "ack"],
    ["requests", "transition"],
    ["sla", "show"],
    ["sla", "breaches"],
    ["sla", "credits"],
    ["sla", "policies"],
    ["sla", "target"],
    ["audit", "query"],
    ["audit", "export"],
    ["audit", "verify"],
]


@pytest.fixture
def k8sops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str]]:
    monkeypatch.setenv("K8SOPS_CONFIG", str(tmp_path / "profiles.json"))
    monkeypatch.delenv("K8SOPS_TOKEN", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result.exit_code, result.output

    return invoke


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_operators_work_requests_slas_and_the_audit_trail_from_the_cli(
    isolation: Isolation,
    start_service: StartService,
    requester_headers: dict[str, str],
    k8sops: Callable[..., tuple[int, str]],
    tmp_path: Path,
    eventually: Eventually,
) -> None:
    for command in COMMANDS:
        code, output = k8sops(*command, "--help")
        assert code == 0 and "Usage" in output, (command, output)
        assert command == ["audit", "export"] or "--json" in output, command  # export is JSON Lines anyway
    code, output = k8sops("requests", "list")
    assert code == 3 and "k8sops login" in output  # not logged in: says what to do, no traceback

    intake, sla, audit = [await start_service(name) for name in ("intake", "sla-timer", "audit")]
    await set_up_engagement(intake.url)
    urls = ["--intake-url", intake.url, "--sla-timer-url", sla.url, "--audit-url", audit.url]
    operator = token_of(bearer(["k8s-ops.operator"], ["eng-e2e"], sub="oncall@provider.example"))
    code, output = k8sops("login", "--token", operator, *urls)
    assert code == 0, output
    assert (tmp_path / "profiles.json").stat().st_mode & 0o077 == 0, "tokens are private to the user"
    k8sops("login", "--token", "not-a-jwt", *urls, "--profile", "broken")
    k8sops("login", "--token", operator, "--intake-url", "http://127.0.0.1:9", "--profile", "away")

    async with httpx.AsyncClient(timeout=10) as client:
        created = await client.post(
            f"{intake.url}/v1/requests", json=new_request("disk full"), headers=requester_headers
        )
    request_id = created.json()["id"]

    code, output = k8sops("requests", "list", "--engagement", "eng-e2e", "--json")
    assert code == 0 and request_id in [item["id"] for item in json.loads(output)]
    code, output = k8sops("requests", "show", request_id)
    assert code == 0 and "disk full" in output

    async def sla_state() -> tuple[int, str]:
        return k8sops("sla", "show", request_id, "--json")

    _, output = await eventually(sla_state, lambda result: result[0] == 0, timeout_s=60)
    assert 0 < json.loads(output)["remaining_seconds"] <= 30 * 60
    code, output = k8sops("sla", "show", request_id)
    assert code == 0 and "remaining" in output and "0h 2" in output  # P1 on k8s-247: 30 min, counting down

    code, output = k8sops("requests", "ack", request_id, "--json")
    assert code == 0 and json.loads(output)["status"] == "acknowledged"
    assert k8sops("requests", "transition", request_id, "teleport")[0] == 6
    assert k8sops("requests", "show", "req-nope")[0] == 5
    assert k8sops("requests", "list", "--profile", "broken")[0] == 4
    assert k8sops("requests", "list", "--profile", "away")[0] == 7

    code, output = k8sops("sla", "credits", "eng-e2e", "--json")
    assert code == 0 and json.loads(output)["items"] == []
    assert k8sops("sla", "breaches", "eng-e2e", "--json")[0] == 0
    code, output = k8sops("sla", "target", "k8s-247", "P1", "--minutes", "45", "--clock", "wall")
    assert code == 6 and "contractual" in output  # the problem's detail, not a stack trace
    code, output = k8sops("sla", "target", "k8s-business", "P4", "--minutes", "300", "--clock", "business", "--json")
    assert code == 0 and json.loads(output)["budget_minutes"] == 300, output
    code, output = k8sops("sla", "policies", "--json")
    targets = {(t["tier"], t["priority"]): t for t in json.loads(output)["response_targets"]}
    assert code == 0 and targets[("k8s-business", "P4")]["updated_by"] == "oncall@provider.example"

    async def opened_entries() -> tuple[int, str]:
        return k8sops("audit", "query", "--action", "request.open", "--json")

    await eventually(opened_entries, lambda result: result[0] == 0 and request_id in result[1], timeout_s=60)
    code, output = k8sops("audit", "export", "--engagement", "eng-e2e")
    assert code == 0 and all(json.loads(line)["engagement_id"] == "eng-e2e" for line in output.splitlines())
    code, output = k8sops("audit", "verify", "--json")
    assert code == 0 and json.loads(output)["ok"] is True

    # Someone with the database's keys rewrites history: verify says so with its own exit code.
    connection = await asyncpg.connect(isolation.admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("SET session_replication_role = replica")  # past the append-only trigger
        await connection.execute(
            f"UPDATE {isolation.schema_for('audit')}.audit_entries SET actor_sub = 'nobody' WHERE seq = 1"
        )
    finally:
        await connection.close()
    code, output = k8sops("audit", "verify")
    assert code == 1 and "TAMPERED" in output
