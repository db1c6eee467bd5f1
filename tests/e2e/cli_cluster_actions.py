"""Part of `test_operator_cli_operations.py` (its services and sandbox, after the drift reads): an
operator's actions in acme-staging through the CLI, and the customer authorisation a destructive one
needs: refused without it (exit 4, the runner's reason and how to get one), granted by the engagement
admin (not the operator), done once with it, refused on a second use, then both listed and each read
by its id."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx

from k8sops_sandbox.server import Sandbox

Cli = Callable[..., Awaitable[tuple[int, str, str]]]
DELETE = ["actions", "run", "acme-staging", "delete-namespace", "Namespace/legacy-reports"]
GRANT = ["authorisations", "grant", "--cluster", "acme-staging", "--engagement", "eng-e2e"]
GRANT += ["--action", "delete-namespace", "--target", "ns/legacy-reports", "--reason", "finance moved out"]


async def cluster_actions_through_the_cli(cli: Cli, sandbox: Sandbox) -> None:
    token = {"Authorization": f"Bearer {sandbox.auth.issue('acme-staging')}"}
    async with httpx.AsyncClient(base_url=sandbox.kube_urls["acme-staging"], headers=token, timeout=10) as kube:
        node = (await kube.get("/api/v1/nodes")).json()["items"][0]["metadata"]["name"]
        code, output, _ = await cli("actions", "run", "acme-staging", "cordon", f"no/{node}", "--json")
        assert code == 0 and json.loads(output)["outcome"] == "success", output
        assert (await kube.get(f"/api/v1/nodes/{node}")).json()["spec"]["unschedulable"] is True
        code, output, _ = await cli("actions", "run", "acme-staging", "uncordon", f"Node/{node}")
        assert code == 0 and f"node {node} uncordoned" in output, output
        assert (await cli("actions", "run", "acme-staging", "cordon", node))[0] == 2  # not KIND/NAME
        code, _, errors = await cli("actions", "run", "acme-staging", "cordon", f"Node/{node}", "-p", "customer")
        assert code == 4 and "k8s-ops.operator" in errors  # the provider's operators act in clusters

        code, _, errors = await cli(*DELETE)
        wanted = "authorisation for delete-namespace on Namespace legacy-reports in cluster acme-staging"
        assert code == 4 and "403" in errors and wanted in errors and "none was given" in errors, errors
        assert "k8sops authorisations grant --engagement ENGAGEMENT --cluster acme-staging" in errors
        assert (await kube.get("/api/v1/namespaces/legacy-reports")).status_code == 200  # untouched

        code, _, errors = await cli(*GRANT)
        assert code == 4 and "k8s-ops.admin" in errors, errors  # an engagement admin's act, not an operator's
        code, output, _ = await cli(*GRANT, "-p", "customer", "--json")
        assert code == 0, output
        authorisation = json.loads(output)["authorisation_id"]
        code, output, _ = await cli("authorisations", "list", "eng-e2e", "--cluster", "acme-staging", "--usable")
        assert code == 0 and authorisation in output and "Namespace/legacy-reports" in output, output

        code, output, _ = await cli(*DELETE, "--authorisation", authorisation, "--json")
        deleted = json.loads(output)
        assert code == 0 and deleted["authorisation_id"] == authorisation, output
        assert (await kube.get("/api/v1/namespaces/legacy-reports")).status_code == 404
    code, _, errors = await cli(*DELETE, "--authorisation", authorisation)
    assert code == 4 and "single-use" in errors, errors

    code, output, _ = await cli("authorisations", "show", authorisation, "--json")  # read by its id alone
    assert code == 0 and json.loads(output)["used_by"] == "oncall@provider.example", output
    code, output, _ = await cli("authorisations", "show", authorisation, "-p", "customer")
    assert code == 0 and "used by oncall@provider.example" in output and "finance moved out" in output, output
    assert (await cli("authorisations", "show", authorisation, "--engagement", "eng-e2e"))[0] == 0  # still taken
    code, _, errors = await cli("authorisations", "show", authorisation, "--engagement", "eng-other")
    assert code == 5 and "belongs to engagement 'eng-e2e', not 'eng-other'" in errors, errors
    code, _, errors = await cli("authorisations", "show", "auth-nope")
    assert code == 5 and "No authorisation 'auth-nope'" in errors and "authorisations list" in errors, errors
    code, output, _ = await cli("authorisations", "list", "eng-e2e", "--cluster", "acme-staging", "--usable", "--json")
    assert code == 0 and json.loads(output) == [], output

    code, output, _ = await cli("actions", "list", "acme-staging", "--json")
    done = [(row["action"], row["authorisation_id"]) for row in json.loads(output)]
    assert code == 0 and done == [("delete-namespace", authorisation), ("uncordon", None), ("cordon", None)], done
    code, output, _ = await cli("actions", "list", "acme-staging")
    assert code == 0 and "Namespace/legacy-reports" in output and f"Node/{node}" in output, output

    code, output, _ = await cli("actions", "show", "acme-staging", deleted["action_id"], "--json")
    assert code == 0 and json.loads(output) == deleted, output
    code, output, _ = await cli("actions", "show", "acme-staging", deleted["action_id"], "-p", "customer")
    assert code == 0 and "Namespace/legacy-reports" in output and authorisation in output, output
    code, _, errors = await cli("actions", "show", "acme-staging", "act-nope")
    assert code == 5 and "No action 'act-nope'" in errors and "k8sops actions list acme-staging" in errors, errors
    assert (await cli("actions", "show", "acme-staging", "not an id"))[0] == 6  # the runner's 422
