"""Removed-API detection from three signals, never from the version a list call returns.

The API server converts every stored object to whatever version a client lists, so an object
listed at `policy/v1` says nothing about what its owner applies. The evidence is instead:
1. `apiserver_requested_deprecated_apis` on the API server's `/metrics`: clients really calling a
   deprecated version, with `removed_release` (primary);
2. the `kubectl.kubernetes.io/last-applied-configuration` annotation: what `kubectl apply` sent;
3. the latest deployed Helm release manifest of each release: what the next `helm upgrade` sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .versions import Version


@dataclass(frozen=True)
class RemovedApi:
    group: str
    version: str
    kind: str
    resource: str
    removed_in: str  # minor, e.g. "1.25"
    replacement: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# SPEC 6, from the Kubernetes deprecated API migration guide.
REMOVED_APIS: tuple[RemovedApi, ...] = (
    RemovedApi("policy", "v1beta1", "PodDisruptionBudget", "poddisruptionbudgets", "1.25", "policy/v1"),
    RemovedApi("policy", "v1beta1", "PodSecurityPolicy", "podsecuritypolicies", "1.25", "Pod Security Admission"),
    RemovedApi("batch", "v1beta1", "CronJob", "cronjobs", "1.25", "batch/v1"),
    RemovedApi(
        "autoscaling", "v2beta2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "1.26", "autoscaling/v2"
    ),
    RemovedApi(
        "autoscaling", "v2beta1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "1.25", "autoscaling/v2"
    ),
    RemovedApi(
        "flowcontrol.apiserver.k8s.io",
        "v1beta2",
        "FlowSchema",
        "flowschemas",
        "1.29",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    RemovedApi(
        "flowcontrol.apiserver.k8s.io",
        "v1beta2",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        "1.29",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    RemovedApi(
        "flowcontrol.apiserver.k8s.io",
        "v1beta3",
        "FlowSchema",
        "flowschemas",
        "1.32",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    RemovedApi(
        "flowcontrol.apiserver.k8s.io",
        "v1beta3",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        "1.32",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
)


class Signal(StrEnum):
    METRIC = "apiserver_requested_deprecated_apis"
    LAST_APPLIED = "last-applied-configuration"
    HELM = "helm-release"


@dataclass(frozen=True)
class RemovedApiFinding:
    api_version: str
    kind: str
    object_ref: str  # "ns/name" of the object, or the resource for the metric
    signal: Signal
    evidence: str
    removed_in: str
    replacement: str


def removed_by(target: Version) -> dict[tuple[str, str], RemovedApi]:
    """(apiVersion, kind) → entry, for APIs not served any more at `target` (removed at or before it)."""
    return {
        (api.api_version, api.kind): api
        for api in REMOVED_APIS
        if Version.parse(api.removed_in) <= Version(target.major, target.minor)
    }


def kinds_to_scan(target: Version) -> set[str]:
    return {kind for _, kind in removed_by(target)}


_SAMPLE = re.compile(r"^apiserver_requested_deprecated_apis\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def from_metrics(metrics_text: str, target: Version) -> list[RemovedApiFinding]:
    """Signal 1: which removed versions clients still call, from the Prometheus text format."""
    findings = []
    by_resource = {(api.group, api.version, api.resource): api for api in removed_by(target).values()}
    for line in metrics_text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or float(match["value"]) <= 0:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        api = by_resource.get((labels.get("group", ""), labels.get("version", ""), labels.get("resource", "")))
        if api is None:
            continue
        findings.append(
            RemovedApiFinding(
                api.api_version,
                api.kind,
                f"{labels['resource']} ({api.api_version})",
                Signal.METRIC,
                f"apiserver_requested_deprecated_apis{{group={labels.get('group')!r}, "
                f"version={labels.get('version')!r}, "
                f"resource={labels.get('resource')!r}, removed_release={labels.get('removed_release')!r}}}: "
                "clients still call this version",
                api.removed_in,
                api.replacement,
            )
        )
    return findings


def from_last_applied(objects: Iterable[Mapping[str, Any]], target: Version) -> list[RemovedApiFinding]:
    """Signal 2: objects whose last `kubectl apply` used a removed version. Each object is a
    listed object (any served version): only its annotation is read, never its apiVersion."""
    removed = removed_by(target)
    findings = []
    for item in objects:
        metadata = item.get("metadata") or {}
        annotation = (metadata.get("annotations") or {}).get("kubectl.kubernetes.io/last-applied-configuration")
        if not annotation:
            continue
        try:
            applied = json.loads(annotation)
        except ValueError:
            continue
        api = removed.get((applied.get("apiVersion", ""), applied.get("kind", "")))
        if api is None:
            continue
        ref = _ref(metadata.get("namespace"), metadata.get("name", "?"))
        findings.append(
            RemovedApiFinding(
                api.api_version,
                api.kind,
                ref,
                Signal.LAST_APPLIED,
                f"{api.kind} {ref}: kubectl.kubernetes.io/last-applied-configuration has apiVersion {api.api_version}",
                api.removed_in,
                api.replacement,
            )
        )
    return findings


@dataclass(frozen=True)
class HelmRelease:
    name: str
    namespace: str
    revision: int
    manifest_documents: tuple[Mapping[str, Any], ...]
    # From the release's chart metadata: what the add-on inventory recognises it by.
    chart: str = ""
    chart_version: str = ""
    app_version: str = ""


def latest_releases(releases: Iterable[HelmRelease]) -> list[HelmRelease]:
    """Only the highest revision of each release matters: older ones are history, not what runs."""
    latest: dict[tuple[str, str], HelmRelease] = {}
    for release in releases:
        key = (release.namespace, release.name)
        if key not in latest or release.revision > latest[key].revision:
            latest[key] = release
    return sorted(latest.values(), key=lambda release: (release.namespace, release.name))


def from_helm(releases: Iterable[HelmRelease], target: Version) -> list[RemovedApiFinding]:
    """Signal 3: templates in the latest deployed release that use a removed version."""
    removed = removed_by(target)
    findings = []
    for release in latest_releases(releases):
        for document in release.manifest_documents:
            api = removed.get((str(document.get("apiVersion", "")), str(document.get("kind", ""))))
            if api is None:
                continue
            metadata = document.get("metadata") or {}
            ref = _ref(metadata.get("namespace") or release.namespace, metadata.get("name", "?"))
            findings.append(
                RemovedApiFinding(
                    api.api_version,
                    api.kind,
                    ref,
                    Signal.HELM,
                    f"Helm release {release.namespace}/{release.name} revision {release.revision} "
                    f"(secret sh.helm.release.v1.{release.name}.v{release.revision}) renders {api.kind} {ref} "
                    f"as {api.api_version}",
                    api.removed_in,
                    api.replacement,
                )
            )
    return findings


def _ref(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name
