"""`k8sops addons catalogue | inventory` and `k8sops drift show | check | baseline | desired-state`:
what a cluster runs and how far it is from its desired state, as upgrade-runner reads them.

The reads go to the cluster at call time (an unreachable cluster is a 502: exit 7). Recording the
desired state is an operator's command (a 403 is exit 4) and is audited by the runner. `drift show`
and `drift check` answer in their exit status as `kubectl diff` does: 0 no drift, 1 drift found,
more than 1 an error (6: no desired state recorded, 7: the cluster could not be read).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from .base import JsonOption, ProfileOption, handled
from .client import CliError, Exit
from .day2 import addons_app, drift_app
from .output import emit
from .upgrades import runner

T = TypeVar("T")
ClusterArgument = Annotated[str, typer.Argument(help="the cluster id (as the engagement names it)")]
CATALOGUE_COLUMNS = ("addon", "version", "kubernetes", "chart_version", "namespace", "kind")
INSTALLED_COLUMNS = ("addon", "namespace", "version", "source", "evidence")
DRIFT_COLUMNS = ("object", "drift", "changes")
VALUE_CHARS = 60  # a changed field's value in a table cell; --json has it whole


@addons_app.command("catalogue")
@handled
def catalogue(profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """The managed add-ons: every catalogued version and the Kubernetes minors it supports (what
    `addons plan --version` accepts)."""
    found = runner(profile).get("/v1/addons")
    if as_json:
        emit(found, True)
        return
    rows = [
        {
            "addon": addon["name"],
            "version": version["version"],
            "kubernetes": f"{version['kubernetes_min']} to {version['kubernetes_max'] or 'any newer'}",
            "chart_version": version["chart_version"],
            "namespace": addon["namespace"],
            "kind": addon["kind"],
        }
        for addon in found["items"]
        for version in addon["versions"]
    ]
    emit(rows, False, CATALOGUE_COLUMNS, title="add-on catalogue")


@addons_app.command("inventory")
@handled
def inventory(cluster: ClusterArgument, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """The add-ons CLUSTER runs (read from it now: running images, Helm releases) and whether each supports
    the next Kubernetes minor; a blocking finding is what an upgrade's pre-check would stop on."""
    found = runner(profile).get(f"/v1/clusters/{cluster}/addons")
    if as_json:
        emit(found, True)
        return
    target = found["next_minor"]
    findings = found["next_minor_findings"]
    summary = {
        "cluster": found["cluster_id"],
        "kubernetes": found["kubernetes_version"],
        "next minor": target,
        "ready for it": "yes" if not findings else f"no: {len(findings)} add-on(s) first need an upgrade",
    }
    emit(summary, False, title=f"add-ons of {cluster}")
    emit(found["items"], False, INSTALLED_COLUMNS, title="installed add-ons")
    if findings:
        emit(findings, False, ("severity", "subject", "message"), title=f"before upgrading to {target}")


@drift_app.command("show")
@handled
def show(cluster: ClusterArgument, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """CLUSTER's drift now: every object missing, extra, or changed (field by field, server-written fields
    ignored) against its desired state. A read: nothing is published (`drift check` does). Exit 0: no
    drift; 1: drift found; more: an error (6: no desired state yet; 7: the cluster could not be read)."""
    found = needing_desired_state(cluster, lambda: runner(profile).get(f"/v1/clusters/{cluster}/drift"))
    print_drift(found, as_json, f"drift of {cluster}")


@drift_app.command("check")
@handled
def check(cluster: ClusterArgument, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """Measure CLUSTER's drift now and publish it (`drift.measured`) for the quarterly health review.
    Exit codes as `drift show`: 0 no drift, 1 drift found (published either way), more: an error."""
    path = f"/v1/clusters/{cluster}/drift-checks"
    found = needing_desired_state(cluster, lambda: runner(profile).post(path, {}))
    print_drift(found, as_json, f"drift of {cluster}, measured {found['measured_at']} and published")


@drift_app.command("baseline")
@handled
def baseline(cluster: ClusterArgument, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """Record CLUSTER's live managed objects as its desired state (onboarding); replaces the one before,
    a Git path included."""
    recorded = runner(profile).post(f"/v1/clusters/{cluster}/baseline", {})
    emit(recorded, as_json, title=f"desired state of {cluster} recorded ({recorded['objects']} objects)")


@drift_app.command("desired-state")
@handled
def desired_state(
    cluster: ClusterArgument,
    git: Annotated[
        str, typer.Option("--git", help="the repository URL: https://, ssh://, git@ (file:// if the runner allows)")
    ],
    ref: Annotated[str, typer.Option(help="a branch or tag")] = "main",
    path: Annotated[str, typer.Option(help="the repository folder holding the cluster's manifests")] = ".",
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Take CLUSTER's desired state from a Git repository path (GitOps) instead of a recorded baseline;
    only the objects the path declares are compared. An unreadable repository, ref or path is exit 6."""
    body = {"repository": git, "ref": ref, "path": path}
    recorded = runner(profile).post(f"/v1/clusters/{cluster}/desired-state", body)
    emit(recorded, as_json, title=f"desired state of {cluster} from Git ({recorded['objects']} objects)")


def needing_desired_state(cluster: str, read: Callable[[], T]) -> T:
    """A cluster with no desired state yet is a 409 (exit 6); say how to record one from here."""
    try:
        return read()
    except CliError as error:
        if error.problem_type != "no-baseline":
            raise
        hint = f"from here: `k8sops drift baseline {cluster}` or `k8sops drift desired-state {cluster} --git URL`"
        raise CliError(f"{error}; {hint}", error.code, error.problem_type) from None


def print_drift(found: dict[str, Any], as_json: bool, title: str) -> None:
    """The drift as a table or JSON; drift found ends the command with exit 1, as `kubectl diff` does."""
    findings = found["findings"]
    if as_json:
        emit(found, True)
    else:
        print_findings(found, title)
    if findings:
        raise typer.Exit(int(Exit.DRIFTED))


def print_findings(found: dict[str, Any], title: str) -> None:
    findings = found["findings"]
    summary = {
        "desired state": found["baseline_reason"],
        "recorded at": found["baseline_recorded_at"],
        "drifted objects": len(findings),
    }
    emit(summary, False, title=title)
    rows = [{**finding, "changes": "; ".join(map(change_text, finding["changes"]))} for finding in findings]
    emit(rows, False, DRIFT_COLUMNS, title="drift")


def change_text(change: dict[str, Any]) -> str:
    """`spec.replicas: 4 -> 6`; long values are cut (the whole value is in --json)."""
    return f"{change['path']}: {value_text(change['desired'])} -> {value_text(change['live'])}"


def value_text(value: Any) -> str:
    text = "absent" if value is None else json.dumps(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 3] + "..."
