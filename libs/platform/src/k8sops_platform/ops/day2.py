"""`k8sops addons | drift | migrations`: the day-2 operations beyond upgrades (SPEC 7a).

`plan` and `reconcile` create one operation on upgrade-runner (operators only: a 403 is exit 4) and
print it; from then on it is an operation like an upgrade: `k8sops upgrades watch | show | cancel |
report`. A cluster with a live operation refuses another, and a request that already has an
operation a second one (409, exit 6); the problem's detail names the operation in the way. What a
cluster runs and how it drifted are read with `addons catalogue | inventory` and `drift show`
(cluster_state.py). Their destructive parts (deleting drift extras, decommissioning the old cluster) need an
engagement admin's single-use authorisation: `drift authorise`, `upgrades authorise --action
decommission-cluster` (or `authorisations grant`, which names any action and target: cluster_actions.py).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .base import JsonOption, ProfileOption, handled
from .client import CliError, Exit
from .output import emit
from .upgrades import OperationArgument, ReasonOption, TtlOption, authorised_step, grant, runner

addons_app = typer.Typer(
    help="The add-on catalogue, a cluster's add-ons, and installing or upgrading one as an operation (upgrade-runner).",
    no_args_is_help=True,
)
drift_app = typer.Typer(
    help="A cluster's desired state (baseline or Git), its drift from it, and reconciling it as an operation"
    " (upgrade-runner).",
    no_args_is_help=True,
)
migrations_app = typer.Typer(
    help="Migrate workloads to a new cluster as an operation (upgrade-runner).", no_args_is_help=True
)

EngagementOption = Annotated[str, typer.Option(help="the engagement the cluster belongs to")]
RequestOption = Annotated[str | None, typer.Option(help="the request this answers (kept with the operation)")]


def plan(profile: str, path: str, body: dict[str, Any], as_json: bool, **optional: str | None) -> None:
    """POST one operation (with the optional fields given) and print it with where to follow it."""
    body |= {name: value for name, value in optional.items() if value is not None}
    operation = runner(profile).post(f"/v1/operations/{path}", body)
    operation_id = operation["operation_id"]
    title = f"planned {operation_id} ({operation['state']}); follow it with `k8sops upgrades watch {operation_id}`"
    emit(operation, as_json, title=title)


@addons_app.command("plan")
@handled
def plan_addon(
    cluster: Annotated[str, typer.Option(help="the cluster to install it on")],
    addon: Annotated[str, typer.Option(help="a catalogued add-on, e.g. ingress-nginx")],
    version: Annotated[str, typer.Option(help="a catalogued version of it, e.g. 1.11.3")],
    engagement: EngagementOption,
    namespace: Annotated[str | None, typer.Option(help="default: the catalogue's namespace for the add-on")] = None,
    request: RequestOption = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Install or upgrade one add-on: server-side apply, rollout, rollback on failure. On production it is
    staged on the paired cluster and waits for the customer's sign-off, as an upgrade does."""
    body = {"engagement_id": engagement, "cluster_id": cluster, "addon": addon, "version": version}
    plan(profile, "addons", body, as_json, namespace=namespace, request_id=request)


@drift_app.command("reconcile")
@handled
def reconcile(
    cluster: Annotated[str, typer.Option(help="the cluster to put back to its desired state")],
    engagement: EngagementOption,
    delete_extra: Annotated[
        bool, typer.Option(help="also delete objects not in the desired state (needs --authorisation)")
    ] = False,
    authorisation: Annotated[
        str | None, typer.Option(help="with --delete-extra: the customer admin's delete-drift-extras authorisation")
    ] = None,
    request: RequestOption = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Put the cluster back to its desired state (recorded baseline or Git) inside its window."""
    body = {"engagement_id": engagement, "cluster_id": cluster, "delete_extra": delete_extra}
    plan(profile, "drift-reconcile", body, as_json, authorisation_id=authorisation, request_id=request)


@drift_app.command("authorise")
@handled
def authorise_delete_extra(
    cluster: Annotated[str, typer.Option(help="the cluster whose extra objects may be deleted")],
    engagement: EngagementOption,
    reason: ReasonOption,
    ttl_minutes: TtlOption = 60,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Allow one `drift reconcile --delete-extra` on the cluster (engagement admins only)."""
    grant(runner(profile), engagement, cluster, "delete-drift-extras", reason, ttl_minutes, as_json)


@migrations_app.command("plan")
@handled
def plan_migration(
    cluster: Annotated[str, typer.Option(help="the old cluster, whose workloads move")],
    engagement: EngagementOption,
    new_cluster: Annotated[str, typer.Option(help="the new cluster's name (provisioned at pre-check)")],
    new_version: Annotated[str, typer.Option(help="its Kubernetes version, e.g. 1.30.4")],
    pool: Annotated[list[str], typer.Option(help="a node pool NAME:INSTANCE_TYPE:COUNT (repeat for more)")],
    workload: Annotated[list[str], typer.Option(help="KIND/NAMESPACE/NAME, shifted in the order given (repeat)")],
    topology: Annotated[str | None, typer.Option(help="the topology design document (step 1)")] = None,
    topology_file: Annotated[
        typer.FileText | None, typer.Option(help="file holding the topology document ('-': stdin)")
    ] = None,
    request: RequestOption = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Migrate workloads to a new cluster: provision it, the customer signs off its CD/CI checklist, shift
    the workloads one by one in the window, validate; decommissioning the old cluster needs authorisation."""
    if (topology is None) == (topology_file is None):
        raise CliError("give the topology document with --topology or --topology-file (one of them)", Exit.USAGE)
    body: dict[str, Any] = {
        "engagement_id": engagement,
        "cluster_id": cluster,
        "new_cluster": {"name": new_cluster, "version": new_version, "node_pools": [node_pool(p) for p in pool]},
        "topology": topology if topology is not None else topology_file.read() if topology_file else "",
        "workloads": [workload_of(w) for w in workload],
    }
    plan(profile, "migration", body, as_json, request_id=request)


@migrations_app.command("decommission")
@handled
def decommission(
    operation_id: OperationArgument,
    authorisation: Annotated[str | None, typer.Option(help="the customer's decommission-cluster authorisation")] = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Delete the old cluster of a validated migration (awaiting_decommission; 409, exit 6, before), with the
    customer's `upgrades authorise OP --action decommission-cluster`."""
    authorised_step(profile, operation_id, "decommission", authorisation, as_json)


def node_pool(text: str) -> dict[str, Any]:
    """`general:m5.large:3`; the service checks the values (422, exit 6), the CLI only the shape."""
    name, _, rest = text.partition(":")
    instance_type, _, count = rest.rpartition(":")
    if not (name and instance_type and count.isdigit()):
        raise CliError(f"--pool is NAME:INSTANCE_TYPE:COUNT (e.g. general:m5.large:3), not {text!r}", Exit.USAGE)
    return {"name": name, "instance_type": instance_type, "count": int(count)}


def workload_of(text: str) -> dict[str, str]:
    parts = text.split("/")
    if len(parts) != 3 or not all(parts):
        raise CliError(f"--workload is KIND/NAMESPACE/NAME (e.g. Deployment/shop/web), not {text!r}", Exit.USAGE)
    return dict(zip(("kind", "namespace", "name"), parts, strict=True))
