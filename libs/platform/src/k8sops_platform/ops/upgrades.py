"""`k8sops upgrades …`: operations on customer clusters (upgrade-runner), from plan to report.

Who may do what is the service's rule (a 403 is exit 4): operators plan, start and watch; the
customer's admin signs off and authorises an emergency start; everyone in the engagement reads.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from .base import JsonOption, ProfileOption, api, handled
from .client import Api, CliError, Exit
from .output import emit, report_format, write_report
from .progress import snapshot, watch

upgrades_app = typer.Typer(
    help="Cluster operations: upgrades, add-ons, drift, migrations (upgrade-runner).", no_args_is_help=True
)
OperationArgument = Annotated[str, typer.Argument(help="the operation id (`k8sops upgrades list`)")]
OPERATION_COLUMNS = ("operation_id", "kind", "cluster_id", "state", "from_version", "to_version", "emergency")
SUMMARY_FIELDS = (
    "operation_id",
    "kind",
    "engagement_id",
    "cluster_id",
    "request_id",
    "state",
    "from_version",
    "to_version",
    "emergency",
    "force",
    "created_by",
    "failure",
    "next_run_at",
    "updated_at",
)
FINISHED = {"completed", "rolled_back", "cancelled"}


def runner(profile: str) -> Api:
    return api(profile, "upgrade-runner")


@upgrades_app.command("list")
@handled
def list_operations(
    cluster: Annotated[str | None, typer.Option(help="only this cluster")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Operations in the token's engagements, newest first."""
    page = runner(profile).get("/v1/operations", cluster_id=cluster, limit=limit)
    emit(page["items"], as_json, (*OPERATION_COLUMNS, "updated_at"), title="operations")


@upgrades_app.command("show")
@handled
def show(operation_id: OperationArgument, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """One operation with its findings, stage, sign-off, every step and per-node progress."""
    client = runner(profile)
    snap = snapshot(client, operation_id)
    steps = client.get(f"/v1/operations/{operation_id}/steps")
    if as_json:
        emit({"operation": snap.operation, "steps": steps, "nodes": snap.nodes}, True)
        return
    operation = snap.operation
    summary = {name: operation[name] for name in SUMMARY_FIELDS}
    stage = operation["stage"] or {}
    summary["stage"] = f"{stage.get('stage_ref')} ({stage.get('result')})" if stage else None
    summary["signed off"] = (operation["signoff"] or {}).get("signed_by")
    emit(summary, False, title=operation_id)
    findings = operation["findings"] or []
    if findings:
        emit(findings, False, ("severity", "code", "subject", "message"), title="pre-check findings")
    emit(steps, False, ("at", "from_state", "to_state", "actor", "detail"), title="steps")
    if snap.nodes:
        columns = ("cluster_name", "pool", "node", "from_version", "to_version", "phase", "finished_at")
        emit(snap.nodes, False, columns, title="nodes")


@upgrades_app.command("plan")
@handled
def plan(
    request: Annotated[str | None, typer.Option(help="plan for this request: its engagement and cluster")] = None,
    engagement: Annotated[str | None, typer.Option(help="engagement id (without --request)")] = None,
    cluster: Annotated[str | None, typer.Option(help="cluster id (without --request)")] = None,
    target_version: Annotated[str | None, typer.Option(help="default: the control plane's minor + 1")] = None,
    emergency: Annotated[bool, typer.Option(help="CVE pathway (a P1 request is one anyway)")] = False,
    force: Annotated[bool, typer.Option(help="run past blocking pre-check findings (senior only)")] = False,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Plan an upgrade; its pre-check starts at once. A request already planned shows its operation."""
    client = runner(profile)
    if request:
        found = api(profile, "intake").get(f"/v1/requests/{request}")
        if not found.get("cluster_id"):
            raise CliError(f"request {request} names no cluster; give --engagement and --cluster", Exit.REJECTED)
        engagement, cluster = found["engagement_id"], found["cluster_id"]
        emergency = emergency or found.get("priority") == "P1"  # as the runner plans a P1 request
        # The runner plans `cluster-upgrade` requests itself: show that plan rather than a 409.
        existing = client.get("/v1/operations", cluster_id=cluster, limit=200)["items"]
        mine = [op for op in existing if op["request_id"] == request and op["state"] not in FINISHED]
        if mine:
            emit(mine[0], as_json, title=f"{request} is already planned as {mine[0]['operation_id']}")
            return
    if not (engagement and cluster):
        raise CliError("give --request, or both --engagement and --cluster", Exit.USAGE)
    body: dict[str, Any] = {"engagement_id": engagement, "cluster_id": cluster, "emergency": emergency, "force": force}
    if request:
        body["request_id"] = request
    if target_version:
        body["target_version"] = target_version
    operation = client.post("/v1/operations", body)
    emit(operation, as_json, title=f"planned {operation['operation_id']} ({operation['state']})")


@upgrades_app.command("sign-off")
@handled
def sign_off(
    operation_id: OperationArgument,
    stage_ref: Annotated[str, typer.Option(help="the passed stage you checked (`upgrades show`: stage)")],
    comment: Annotated[str, typer.Option(help="kept with the sign-off")] = "",
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """The customer's go for production (engagement admins only)."""
    body = {"stage_ref": stage_ref, "comment": comment}
    operation = runner(profile).post(f"/v1/operations/{operation_id}/sign-off", body)
    emit(operation, as_json, title=f"{operation_id} signed off ({operation['state']})")


ReasonOption = Annotated[str, typer.Option(help="why (kept with the authorisation and audited)")]
TtlOption = Annotated[int, typer.Option(min=1, max=1440, help="expiry in minutes")]


def grant(
    client: Api,
    engagement: str,
    cluster: str,
    action: str,
    reason: str,
    ttl: int,
    as_json: bool,
    target: dict[str, str] | None = None,
) -> None:
    """An engagement admin's single-use authorisation of `action` on `target` (default: the whole cluster)."""
    body = {
        "engagement_id": engagement,
        "cluster_id": cluster,
        "action": action,
        "target": target or {"kind": "Cluster", "name": cluster},
        "reason": reason,
        "ttl_minutes": ttl,
    }
    granted = client.post("/v1/authorisations", body)
    emit(granted, as_json, title=f"authorisation {granted['authorisation_id']} ({action}, single use)")


class OperationGrant(StrEnum):
    EMERGENCY_UPGRADE = "emergency-upgrade"
    DECOMMISSION_CLUSTER = "decommission-cluster"


@upgrades_app.command("authorise")
@handled
def authorise(
    operation_id: OperationArgument,
    reason: ReasonOption,
    action: Annotated[
        OperationGrant,
        typer.Option(help="emergency-upgrade: start outside the window; decommission-cluster: a migration's old one"),
    ] = OperationGrant.EMERGENCY_UPGRADE,
    ttl_minutes: TtlOption = 60,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """The customer's go for this operation's cluster: an emergency start outside the window, or deleting
    a migrated cluster (engagement admins only)."""
    client = runner(profile)
    operation = client.get(f"/v1/operations/{operation_id}")
    grant(client, operation["engagement_id"], operation["cluster_id"], action.value, reason, ttl_minutes, as_json)


def authorised_step(profile: str, operation_id: str, step: str, authorisation: str | None, as_json: bool) -> None:
    """POST a step that may need an authorisation; the operation goes on in the runner."""
    body = {"authorisation_id": authorisation} if authorisation else {}
    operation = runner(profile).post(f"/v1/operations/{operation_id}/{step}", body)
    title = f"{operation_id} {operation['state']}; follow it with `k8sops upgrades watch {operation_id}`"
    emit(operation, as_json, title=title)


@upgrades_app.command("start")
@handled
def start(
    operation_id: OperationArgument,
    authorisation: Annotated[str | None, typer.Option(help="outside the window: an emergency authorisation")] = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Start a scheduled operation now (inside its window, or an emergency with an authorisation)."""
    authorised_step(profile, operation_id, "start", authorisation, as_json)


@upgrades_app.command("cancel")
@handled
def cancel(operation_id: OperationArgument, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """Cancel before anything in the cluster changed."""
    operation = runner(profile).post(f"/v1/operations/{operation_id}/cancel", {})
    emit(operation, as_json, title=f"{operation_id} {operation['state']}")


@upgrades_app.command("recheck")
@handled
def recheck(operation_id: OperationArgument, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """After fixing what stopped it: run a failed pre-check again (or a migration's blocked shift); in any
    other state, or while another operation of the cluster is live, 409 (exit 6) says why."""
    operation = runner(profile).post(f"/v1/operations/{operation_id}/recheck", {})
    title = f"{operation_id} {operation['state']}; follow it with `k8sops upgrades watch {operation_id}`"
    emit(operation, as_json, title=title)


@upgrades_app.command("watch")
@handled
def watch_operation(
    operation_id: OperationArgument,
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between polls")] = 2.0,
    timeout: Annotated[float | None, typer.Option(min=1, help="give up after this many seconds")] = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Follow an operation live until it ends. Exit 0: completed; 8: pre-check failed, rolled back or
    cancelled; 9: it waits for a person (sign-off, window) or --timeout passed. --json: a line per change."""
    outcome = watch(runner(profile), operation_id, interval_s=interval, timeout_s=timeout, as_json=as_json)
    if outcome != Exit.OK:
        raise typer.Exit(int(outcome))


@upgrades_app.command("report")
@handled
def report(
    operation_id: OperationArgument,
    output_format: Annotated[str, typer.Option("--format", help="markdown or json")] = "markdown",
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """A finished operation's report (409, exit 6, while it runs)."""
    chosen = report_format(output_format, as_json, ("markdown", "json"))
    write_report(runner(profile).text(f"/v1/operations/{operation_id}/report", format=chosen), chosen)
