"""The operator CLI's `upgrades`, `addons`, `drift`, `migrations` and `cost` commands against intake,
upgrade-runner and cost-analyzer as processes, the sandbox cluster standing in for the customer's
(`acme-prod`, staged on `acme-staging`).

An emergency upgrade goes from a P1 request to a completed operation through the CLI alone: plan,
watch to the sign-off, the customer's sign-off and authorisation, start, live progress, report.
Then the onboarding assessment's findings in BDT, a recommendation decided by each side, the report;
then an add-on install, a drift reconciliation and a migration planned from the CLI, and their refusals;
then the add-on catalogue and a cluster's add-ons, its desired state (baseline, then Git) and its drift;
then actions in a cluster and the customer authorisation a destructive one needs.
Commands run on a thread: the sandbox serves from this test's event loop, which must keep running.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from k8sops_platform.ops.commands import app
from k8sops_sandbox.server import Sandbox, run_sandbox

from .cli_cluster_actions import cluster_actions_through_the_cli
from .cli_cluster_state import cluster_state_through_the_cli
from .conftest import StartService, bearer
from .test_operator_cli import token_of
from .test_upgrade_runner_process import ready, runner_env

Eventually = Callable[..., Awaitable[Any]]
Cli = Callable[..., Awaitable[tuple[int, str, str]]]
COMMANDS = (
    [
        ["upgrades", name]
        for name in ("list", "show", "plan", "sign-off", "authorise", "start", "cancel", "recheck", "watch", "report")
    ]
    + [
        ["cost", name]
        for name in ("analyses", "reviews", "analyse", "show", "recommendations", "recommendation", "position")
    ]
    + [["cost", "decide"], ["cost", "report"]]
    + [["addons", "plan"], ["drift", "reconcile"], ["drift", "authorise"], ["migrations", "plan"]]
    + [["migrations", "decommission"], ["addons", "catalogue"], ["addons", "inventory"]]
    + [["drift", name] for name in ("show", "check", "baseline", "desired-state")]
    + [["actions", name] for name in ("list", "show", "run")]
    + [["authorisations", name] for name in ("list", "show", "grant")]
)
OPERATOR = token_of(bearer(["k8s-ops.operator"], ["eng-e2e"], sub="oncall@provider.example"))
CUSTOMER_ADMIN = token_of(bearer(["k8s-ops.admin"], ["eng-e2e"], sub="admin@customer.example"))


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("K8SOPS_CONFIG", str(tmp_path / "profiles.json"))
    monkeypatch.delenv("K8SOPS_TOKEN", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result.exit_code, result.stdout, result.stderr

    async def run(*args: str) -> tuple[int, str, str]:
        return await asyncio.to_thread(invoke, *args)

    return run


async def set_up_clusters(intake_url: str, sandbox: Sandbox) -> None:
    """The engagement (no maintenance window: only an emergency may start) with the sandbox's clusters."""
    senior = bearer(["k8s-ops.senior"], ["eng-e2e"], sub="senior@provider.example")
    admin = {"Authorization": f"Bearer {CUSTOMER_ADMIN}"}
    async with httpx.AsyncClient(base_url=intake_url, timeout=10) as client:
        engagement = {"id": "eng-e2e", "name": "e2e", "tier": "k8s-247", "timezone": "Asia/Dhaka"}
        assert (await client.post("/v1/engagements", json=engagement, headers=senior)).status_code == 201
        for name, environment, pair in (("acme-staging", "non-prod", None), ("acme-prod", "prod", "acme-staging")):
            cluster = {
                "id": name,
                "name": name,
                "environment": environment,
                "api_endpoint": sandbox.kube_urls[name],
                "credentials_ref": f"vault://k8s/{name}",
                "size_band": "M",
                "workload_band": "<50",
                "monthly_retainer_bdt": "100000.00",
                **({"paired_cluster_id": pair} if pair else {}),
            }
            created = await client.post("/v1/engagements/eng-e2e/clusters", json=cluster, headers=admin)
            assert created.status_code == 201, created.text


async def test_an_emergency_upgrade_and_a_cost_review_from_the_cli(
    start_service: StartService, cli: Cli, eventually: Eventually, tmp_path: Path
) -> None:
    for command in COMMANDS:
        code, output, _ = await cli(*command, "--help")
        assert code == 0 and "Usage" in output and "--json" in output, (command, output)

    async with run_sandbox("healthy-small", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        timing = sandbox.scenario.timing
        timing.node_ready_seconds, timing.pod_start_seconds, timing.control_plane_upgrade_seconds = 0.1, 0.05, 0.1
        intake = await start_service("intake", wait=False)  # the three start side by side
        # The secret store the clusters' references resolve in: `vault://k8s/<cluster>` holds its token.
        credentials = tmp_path / "credentials"
        for name in ("acme-staging", "acme-prod"):
            (credentials / "vault" / "k8s").mkdir(parents=True, exist_ok=True)
            (credentials / "vault" / "k8s" / name).write_text(sandbox.auth.issue(name))
        env = runner_env(sandbox.platform_url, "runner-cli") | {
            "K8SOPS_UPGRADE_CREDENTIALS_DIR": str(credentials),
            "K8SOPS_UPGRADE_GIT_ALLOW_LOCAL": "true",  # the desired state's repository is a local folder
        }
        runner = await start_service("upgrade-runner", wait=False, env=env)
        cost_env = {
            "K8SOPS_KUBECONFIG": str(sandbox.kubeconfig_path),
            "K8SOPS_PROMETHEUS_URL": sandbox.prometheus_url,
            "K8SOPS_COST_SCHEDULER_POLL_INTERVAL_S": "0.2",
        }
        cost = await start_service("cost-analyzer", wait=False, env=cost_env)
        for process in (intake, runner, cost):
            await ready(process, eventually)
        await set_up_clusters(intake.url, sandbox)
        urls = ["--intake-url", intake.url, "--upgrade-runner-url", runner.url, "--cost-analyzer-url", cost.url]
        assert (await cli("login", "--token", OPERATOR, *urls))[0] == 0
        assert (await cli("login", "--token", CUSTOMER_ADMIN, *urls, "--profile", "customer"))[0] == 0
        await upgrade_through_the_cli(cli, intake.url, eventually)
        await review_costs_through_the_cli(cli, eventually)
        await day2_operations_through_the_cli(cli, intake.url, eventually, tmp_path)
        await cluster_state_through_the_cli(cli, sandbox, tmp_path)
        await cluster_actions_through_the_cli(cli, sandbox)


async def upgrade_through_the_cli(cli: Cli, intake_url: str, eventually: Eventually) -> None:
    requester = bearer(["k8s-ops.requester"], ["eng-e2e"])
    request = {
        "engagement_id": "eng-e2e",
        "cluster_id": "acme-prod",
        "category": "incident",
        "priority": "P1",
        "title": "kubelet CVE: upgrade acme-prod now",
    }
    async with httpx.AsyncClient(timeout=10) as client:
        created = await client.post(f"{intake_url}/v1/requests", json=request, headers=requester)
    request_id = created.json()["id"]

    assert (await cli("upgrades", "plan"))[0] == 2  # neither a request nor a cluster named
    # 422 (exit 6) until upgrade-runner has heard of the cluster from intake.
    code, output, _ = await eventually(
        lambda: cli("upgrades", "plan", "--request", request_id, "--json"), lambda r: r[0] != 6, 60
    )
    assert code == 0, output
    planned = json.loads(output)
    operation_id = planned["operation_id"]
    assert planned["emergency"] is True and planned["request_id"] == request_id  # P1: the CVE pathway
    code, output, _ = await cli("upgrades", "plan", "--request", request_id)
    assert code == 0 and "already planned" in output and operation_id in output

    # Pre-check, then the stage on acme-staging; it stops where the customer must sign off.
    code, output, _ = await cli("upgrades", "watch", operation_id, "--json", "--interval", "0.2", "--timeout", "120")
    lines = [json.loads(line) for line in output.splitlines()]
    assert code == 9 and lines[-1]["state"] == "awaiting_signoff" and "sign-off" in lines[-1]["outcome"], output
    assert len({line["state"] for line in lines}) > 1  # it followed the operation as it moved

    code, output, _ = await cli("upgrades", "show", operation_id, "--json")
    shown = json.loads(output)
    stage_ref = shown["operation"]["stage"]["stage_ref"]
    assert [step["to_state"] for step in shown["steps"]][-1] == "awaiting_signoff"
    code, output, _ = await cli("upgrades", "show", operation_id)
    assert code == 0 and "steps" in output and "staging" in output and stage_ref in output

    code, _, errors = await cli("upgrades", "sign-off", operation_id, "--stage-ref", stage_ref)
    assert code == 4 and "Traceback" not in errors  # an operator is not the customer
    code, _, errors = await cli("upgrades", "sign-off", operation_id, "--stage-ref", "stage-nope", "-p", "customer")
    assert code == 6 and "409" in errors and "stage-nope" in errors  # the problem's detail, no stack trace
    code, output, _ = await cli(
        "upgrades", "sign-off", operation_id, "--stage-ref", stage_ref, "-p", "customer", "--json"
    )
    assert code == 0 and json.loads(output)["state"] == "scheduled"

    # No window is open: an emergency starts only with the customer's authorisation.
    code, _, errors = await cli("upgrades", "start", operation_id)
    assert code == 4 and "authoris" in errors
    reason = ["--reason", "CVE in kubelet"]
    assert (await cli("upgrades", "authorise", operation_id, *reason))[0] == 4
    code, output, _ = await cli("upgrades", "authorise", operation_id, *reason, "-p", "customer", "--json")
    assert code == 0, output
    authorisation = json.loads(output)["authorisation_id"]
    assert (await cli("upgrades", "start", operation_id, "--authorisation", authorisation))[0] == 0

    code, output, _ = await cli("upgrades", "watch", operation_id, "--interval", "0.3", "--timeout", "180")
    assert code == 0 and f"{operation_id}: completed" in output, output
    assert "acme-staging" in output and "3/3" in output and "acme-prod" in output and "5/5" in output  # a bar each
    code, output, _ = await cli("upgrades", "report", operation_id)
    assert code == 0 and operation_id in output and output.startswith("#")
    code, output, _ = await cli("upgrades", "report", operation_id, "--json")
    assert code == 0 and json.loads(output)
    code, output, _ = await cli("upgrades", "list", "--json", "--cluster", "acme-prod")
    assert code == 0 and [op["state"] for op in json.loads(output)] == ["completed"]
    assert (await cli("upgrades", "show", "op-nope"))[0] == 5
    code, _, errors = await cli("upgrades", "cancel", operation_id)
    assert code == 6 and "completed" in errors  # too late: the problem says why


async def review_costs_through_the_cli(cli: Cli, eventually: Eventually) -> None:
    # The onboarding assessment runs on its own once cost-analyzer hears of the cluster.
    code, output, _ = await eventually(
        lambda: cli("cost", "analyses", "--cluster", "acme-prod", "--json"), lambda r: r[0] == 0 and r[1] != "[]\n", 90
    )
    (assessment,) = json.loads(output)
    analysis_id = assessment["analysis_id"]
    code, output, _ = await cli("cost", "show", analysis_id, "--json")
    findings = json.loads(output)["findings"]
    assert code == 0 and findings and all("monthly_savings_bdt" in finding for finding in findings)
    code, output, _ = await cli("cost", "show", analysis_id)
    assert code == 0 and "BDT a month" in output and findings[0]["kind"] in output

    code, output, _ = await cli("cost", "recommendations", "--cluster", "acme-prod", "--status", "open", "--json")
    recommendations = json.loads(output)
    assert code == 0 and len(recommendations) >= 2, recommendations
    first, second = (item["recommendation_id"] for item in recommendations[:2])
    assert (await cli("cost", "decide", first, "accepted"))[0] == 4  # the customer decides, not the provider
    code, _, errors = await cli("cost", "decide", first, "teleport", "-p", "customer")
    assert code == 6 and "body.status" in errors and "accepted_as_is" in errors  # names the field and the choices
    code, output, _ = await cli("cost", "decide", first, "accepted", "--note", "go", "-p", "customer", "--json")
    assert code == 0 and json.loads(output)["status"] == "accepted"
    code, output, _ = await cli("cost", "decide", first, "implemented", "--json")
    assert code == 0 and json.loads(output)["status"] == "implemented"
    code, output, _ = await cli("cost", "position", second, "Worth it: the pods idle all week")
    assert code == 0 and "provider" in output.lower()
    code, output, _ = await cli("cost", "recommendation", first, "--json")
    assert [entry["to_status"] for entry in json.loads(output)["history"] if entry["to_status"]][-2:] == [
        "accepted",
        "implemented",
    ]

    code, output, _ = await cli("cost", "report", analysis_id)
    assert code == 0 and output.startswith("#") and "BDT" in output
    code, output, _ = await cli("cost", "report", analysis_id, "--json")
    assert code == 0 and json.loads(output)
    assert (await cli("cost", "report", analysis_id, "--format", "pdf"))[0] == 2
    assert (await cli("cost", "show", "an-nope"))[0] == 5
    code, output, _ = await cli("cost", "analyse", "acme-prod", "--kind", "health-review", "--json")
    assert code == 0 and json.loads(output)["kind"] == "health-review"
    code, output, _ = await cli("cost", "reviews", "--json")
    assert code == 0 and isinstance(json.loads(output), list)


async def day2_operations_through_the_cli(cli: Cli, intake_url: str, eventually: Eventually, tmp_path: Path) -> None:
    where = ["--engagement", "eng-e2e"]
    addon = ["addons", "plan", "--cluster", "acme-staging", *where, "--addon", "ingress-nginx"]
    code, _, errors = await cli(*addon, "--version", "1.11.3", "-p", "customer")
    assert code == 4 and "k8s-ops.operator" in errors and "Traceback" not in errors  # the customer does not plan
    code, _, errors = await cli(*addon, "--version", "9.9.9")
    assert code == 6 and "422" in errors and "1.11.3" in errors  # the problem names the catalogued versions
    code, output, _ = await cli(*addon, "--version", "1.11.3", "--json")
    assert code == 0, output
    planned = json.loads(output)
    assert (planned["kind"], planned["cluster_id"], planned["spec"]["version"]) == ("addon", "acme-staging", "1.11.3")
    # A non-prod cluster has no window to wait for: it is applied and rolled out now.
    code, output, _ = await watch(cli, planned["operation_id"])
    assert code == 0 and json.loads(output.splitlines()[-1])["state"] == "completed", output

    request = {"engagement_id": "eng-e2e", "cluster_id": "acme-prod", "category": "workload-issue", "priority": "P3"}
    request |= {"title": "shop objects edited by hand"}
    async with httpx.AsyncClient(timeout=10) as client:
        requester = bearer(["k8s-ops.requester"], ["eng-e2e"])
        created = await client.post(f"{intake_url}/v1/requests", json=request, headers=requester)
    assert created.status_code == 201, created.text
    reconcile = ["drift", "reconcile", "--cluster", "acme-prod", *where]
    code, output, _ = await cli(*reconcile, "--request", created.json()["id"])
    assert code == 0 and "drift-reconcile" in output and "upgrades watch" in output, output
    (planned,) = [op for op in await operations_of(cli, "acme-prod") if op["kind"] == "drift-reconcile"]
    assert planned["request_id"] == created.json()["id"] and planned["spec"]["delete_extra"] is False
    code, output, _ = await watch(cli, planned["operation_id"])  # nobody recorded acme-prod's desired state
    assert code == 8 and json.loads(output.splitlines()[-1])["state"] == "precheck_failed", output
    failed = planned["operation_id"]

    migration = ["migrations", "plan", "--cluster", "acme-prod", *where, "--new-cluster", "acme-next"]
    migration += ["--new-version", "1.30.4", "--workload", "Deployment/shop/web", "--pool", "apps:m5.2xlarge:3"]
    assert (await cli(*migration, "--pool", "apps-m5-3", "--topology", "one cluster"))[0] == 2  # not N:TYPE:COUNT
    assert (await cli(*migration))[0] == 2  # no topology document
    design = tmp_path / "topology.md"
    design.write_text("# acme-next\nOne regional cluster; ingress through the shared load balancer.\n")
    code, output, _ = await cli(*migration, "--pool", "system:m5.xlarge:2", "--topology-file", str(design), "--json")
    assert code == 0, output
    planned = json.loads(output)
    assert planned["kind"] == "migration" and planned["to_version"] == "1.30.4"
    assert planned["spec"]["topology"] == design.read_text()
    assert [pool["count"] for pool in planned["spec"]["new_cluster"]["node_pools"]] == [3, 2]
    assert [w["name"] for w in planned["spec"]["workloads"]] == ["web"]
    code, output, _ = await watch(cli, planned["operation_id"])  # provisioned; the CD/CI checklist waits
    assert code == 9 and json.loads(output.splitlines()[-1])["state"] == "awaiting_signoff", output
    code, _, errors = await cli(*reconcile)
    assert code == 6 and "409" in errors and planned["operation_id"] in errors  # one live operation per cluster
    code, _, errors = await cli("upgrades", "recheck", failed)
    assert code == 6 and f"another live operation {planned['operation_id']} (migration," in errors, errors
    code, _, errors = await cli("migrations", "decommission", planned["operation_id"])
    assert code == 6 and "awaiting_signoff" in errors  # only a validated migration
    decommission = ["--action", "decommission-cluster", "--reason", "migrated", "-p", "customer", "--json"]
    code, output, _ = await cli("upgrades", "authorise", planned["operation_id"], *decommission)
    assert code == 0 and json.loads(output)["action"] == "decommission-cluster", output
    assert (await cli("upgrades", "cancel", planned["operation_id"]))[0] == 0

    code, _, errors = await cli(*reconcile, "--delete-extra")
    assert code == 4 and "delete-drift-extras" in errors  # deleting needs the customer's authorisation
    grant = ["drift", "authorise", "--cluster", "acme-prod", *where, "--reason", "hand-made objects"]
    code, output, _ = await cli(*grant, "-p", "customer", "--json")
    assert code == 0, output
    authorisation = json.loads(output)["authorisation_id"]
    code, output, _ = await cli(*reconcile, "--delete-extra", "--authorisation", authorisation, "--json")
    assert code == 0 and json.loads(output)["spec"] == {"delete_extra": True, "authorisation_id": authorisation}
    kinds = [op["kind"] for op in await operations_of(cli, "acme-prod")]
    assert kinds == ["drift-reconcile", "migration", "drift-reconcile", "upgrade"], kinds
    last = json.loads(output)["operation_id"]
    code, output, _ = await watch(cli, last)
    assert code == 8 and json.loads(output.splitlines()[-1])["state"] == "precheck_failed", output
    code, output, _ = await cli("upgrades", "recheck", last, "--json")  # still none: it will fail again
    assert code == 0 and json.loads(output)["state"] == "planned", output


async def watch(cli: Cli, operation_id: str) -> tuple[int, str, str]:
    return await cli("upgrades", "watch", operation_id, "--json", "--interval", "0.2", "--timeout", "90")


async def operations_of(cli: Cli, cluster: str) -> list[dict[str, Any]]:
    code, output, _ = await cli("upgrades", "list", "--cluster", cluster, "--json")
    assert code == 0, output
    operations: list[dict[str, Any]] = json.loads(output)
    return operations
