"""`k8sops actions list | show | run` and `k8sops authorisations list | show | grant`: an operator's actions
in a customer cluster (SPEC 3) and the customer authorisations the destructive ones need (upgrade-runner).

Who may do what is the runner's rule, the CLI only passes it on: operators of the engagement run
actions, an engagement admin grants authorisations (`k8s-ops.admin`; anyone else gets 403, exit 4),
everyone in the engagement reads both. A destructive action (delete a namespace or PVC, scale to
zero, drain outside the window) without a valid authorisation is a 403 (exit 4) whose detail says
what is missing; the runner audits the refusal. `show` reads one by its id; one the token may not
see is not found (exit 5), as an unknown id is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from .base import JsonOption, ProfileOption, handled
from .client import CliError, Exit
from .day2 import EngagementOption
from .output import emit
from .upgrades import ReasonOption, TtlOption, grant, runner

actions_app = typer.Typer(
    help="Act in a customer cluster (cordon, drain, restart, scale, delete) and list what was done (upgrade-runner).",
    no_args_is_help=True,
)
authorisations_app = typer.Typer(
    help="Customer authorisations for destructive actions: grant (engagement admins), list, show (upgrade-runner).",
    no_args_is_help=True,
)

ClusterArgument = Annotated[str, typer.Argument(help="the cluster id (as the engagement names it)")]
TargetHelp = "KIND/NAME or KIND/NAMESPACE/NAME, e.g. Node/n1, Namespace/legacy, Deployment/shop/web, pvc/shop/data"
ACTIONS = "cordon, uncordon, drain, restart-workload, scale, delete-pod, delete-namespace, delete-pvc"
ACTION_COLUMNS = ("action_id", "at", "action", "target", "outcome", "actor", "authorisation_id", "detail")
AUTHORISATION_COLUMNS = ("authorisation_id", "cluster_id", "action", "target", "state", "granted_by", "reason")
# The runner's kinds, typed as `kubectl` users type them too (any case, its short names).
KINDS = {kind.lower(): kind for kind in ("Node", "Namespace", "PersistentVolumeClaim", "Pod", "Deployment")}
KINDS |= {"statefulset": "StatefulSet", "cluster": "Cluster", "no": "Node", "ns": "Namespace"}
KINDS |= {"pvc": "PersistentVolumeClaim", "po": "Pod", "deploy": "Deployment", "sts": "StatefulSet"}


@actions_app.command("list")
@handled
def list_actions(
    cluster: ClusterArgument,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """The actions run in CLUSTER, newest first: who, what, on what, with which authorisation, the outcome.
    A refused action is not one (the audit trail has it: `audit query --action cluster.ACTION`)."""
    found = runner(profile).get(f"/v1/clusters/{cluster}/actions", limit=limit)
    emit(
        found if as_json else [with_target(row) for row in found],
        as_json,
        ACTION_COLUMNS,
        title=f"actions in {cluster}",
    )


@actions_app.command("show")
@handled
def show_action(
    cluster: ClusterArgument,
    action_id: Annotated[str, typer.Argument(help="the action id (`actions list`, or what `actions run` answered)")],
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """One action run in CLUSTER: who did what on what, with which authorisation, the outcome and the
    cluster's answer."""
    found = read_one(profile, f"/v1/clusters/{cluster}/actions/{action_id}", f"k8sops actions list {cluster}")
    emit(found if as_json else with_target(found), as_json, title=action_id)


@actions_app.command("run")
@handled
def run_action(
    cluster: ClusterArgument,
    action: Annotated[str, typer.Argument(help=ACTIONS)],
    target: Annotated[str, typer.Argument(help=TargetHelp)],
    replicas: Annotated[int | None, typer.Option(min=0, help="for scale: the replica count")] = None,
    authorisation: Annotated[
        str | None, typer.Option(help="for a destructive action: the engagement admin's authorisation id")
    ] = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Run one action in CLUSTER as the engagement's operator (audited). Destructive ones (delete-namespace,
    delete-pvc, scale to 0, drain outside the window) need an engagement admin's single-use authorisation
    of this exact action and target: without one, exit 4 and what is missing. Exit 7: the cluster refused
    or failed it (recorded as a failure)."""
    body: dict[str, Any] = {"action": action, "target": target_of(target)}
    if replicas is not None:
        body["replicas"] = replicas
    if authorisation:
        body["authorisation_id"] = authorisation
    try:
        done = runner(profile).post(f"/v1/clusters/{cluster}/actions", body)
    except CliError as error:
        raise explained(error, cluster, action, target) from None
    emit(done, as_json, title=f"{action} {target} in {cluster}: {done['outcome']}")


def explained(error: CliError, cluster: str, action: str, target: str) -> CliError:
    """A refusal for want of an authorisation says who grants one and how; a failure where to find it."""
    if error.problem_type == "authorisation-required":
        how = f"--cluster {cluster} --action {action} --target {target} --reason WHY"
        hint = f"an engagement admin grants one: `k8sops authorisations grant --engagement ENGAGEMENT {how}`"
        hint += "; then run it again with --authorisation AUTH_ID"
    elif error.problem_type == "cluster-action-failed":
        hint = f"recorded as a failure: `k8sops actions list {cluster}`"
    else:
        return error
    return CliError(f"{error}; {hint}", error.code, error.problem_type)


@authorisations_app.command("list")
@handled
def list_authorisations(
    engagement: Annotated[str, typer.Argument(help="the engagement id")],
    cluster: Annotated[str | None, typer.Option(help="only this cluster")] = None,
    usable: Annotated[bool, typer.Option("--usable", help="only those neither used nor expired")] = False,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """ENGAGEMENT's authorisations, newest first: the action and target each allows, once, and whether it
    is still usable, used (by whom, when) or expired."""
    now = datetime.now(UTC)
    found = [
        item
        for item in runner(profile).get(f"/v1/engagements/{engagement}/authorisations")
        if (cluster is None or item["cluster_id"] == cluster) and (not usable or state_of(item, now) == "usable")
    ]
    rows = found if as_json else [with_target(item) | {"state": state_of(item, now)} for item in found]
    emit(rows, as_json, AUTHORISATION_COLUMNS, title=f"authorisations of {engagement}")


@authorisations_app.command("show")
@handled
def show_authorisation(
    authorisation_id: Annotated[str, typer.Argument(help="the authorisation id (`authorisations list`)")],
    engagement: Annotated[
        str | None, typer.Option(help="not needed; if given, an authorisation of another engagement is not found")
    ] = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """One authorisation: what it allows, who granted it and why, until when, and whether it was used."""
    listing = f"k8sops authorisations list {engagement or 'ENGAGEMENT'}"
    item = read_one(profile, f"/v1/authorisations/{authorisation_id}", listing)
    if engagement is not None and item["engagement_id"] != engagement:
        # The flag once chose the list to search: scripts that pass it keep that meaning.
        owner = item["engagement_id"]
        raise CliError(
            f"authorisation {authorisation_id!r} belongs to engagement {owner!r}, not {engagement!r}", Exit.NOT_FOUND
        )
    emit(
        item if as_json else with_target(item) | {"state": state_of(item, datetime.now(UTC))},
        as_json,
        title=authorisation_id,
    )


@authorisations_app.command("grant")
@handled
def grant_authorisation(
    cluster: Annotated[str, typer.Option(help="the cluster the action is in")],
    engagement: EngagementOption,
    action: Annotated[str, typer.Option(help=f"{ACTIONS}; or emergency-upgrade, delete-drift-extras, ...")],
    reason: ReasonOption,
    target: Annotated[str | None, typer.Option(help=f"{TargetHelp}; default: the cluster itself")] = None,
    ttl_minutes: TtlOption = 60,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Authorise one destructive action on one target, once, until it expires (engagement admins only: another
    token gets exit 4). The operator then runs it with `k8sops actions run CLUSTER ACTION TARGET --authorisation
    AUTH_ID`."""
    exact = target_of(target) if target else None
    grant(runner(profile), engagement, cluster, action, reason, ttl_minutes, as_json, exact)


def read_one(profile: str, path: str, listing: str) -> dict[str, Any]:
    """One record by id; not found (unknown, or not in the token's engagements: exit 5) names the listing."""
    try:
        found: dict[str, Any] = runner(profile).get(path)
    except CliError as error:
        if error.code is not Exit.NOT_FOUND:
            raise
        raise CliError(f"{error}; `{listing}` lists them", error.code, error.problem_type) from None
    return found


def target_of(text: str) -> dict[str, str]:
    """`Deployment/shop/web` or `Node/n1`; the runner checks the kind fits the action (422, exit 6)."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise CliError(f"a target is {TargetHelp}; not {text!r}", Exit.USAGE)
    kind = KINDS.get(parts[0].lower(), parts[0])
    return {"kind": kind, "name": parts[-1], **({"namespace": parts[1]} if len(parts) == 3 else {})}


def with_target(row: dict[str, Any]) -> dict[str, Any]:
    where = f"{row['target_namespace']}/" if row.get("target_namespace") else ""
    return row | {"target": f"{row['target_kind']}/{where}{row['target_name']}"}


def state_of(authorisation: dict[str, Any], now: datetime) -> str:
    if authorisation["used_at"]:
        return f"used by {authorisation['used_by']} at {authorisation['used_at']}"
    if datetime.fromisoformat(authorisation["expires_at"]) <= now:
        return "expired"
    return "usable"
