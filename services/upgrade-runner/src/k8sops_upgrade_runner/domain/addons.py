"""Managed add-ons (SPEC 7a): the catalogue, what a cluster has installed, and whether it runs on
a Kubernetes minor. Pure: the runner reads the cluster and hands the objects in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from .checks import Finding, Severity
from .removed_apis import HelmRelease
from .versions import Version

FIELD_MANAGER = "k8s-ops"


@dataclass(frozen=True)
class AddonVersion:
    version: str
    chart_version: str
    min: str
    max: str | None

    def supports(self, minor: Version) -> bool:
        low = Version.parse(self.min)
        if (minor.major, minor.minor) < (low.major, low.minor):
            return False
        if self.max is None:
            return True
        high = Version.parse(self.max)
        return (minor.major, minor.minor) <= (high.major, high.minor)

    @property
    def range_text(self) -> str:
        return f"{self.min} to {self.max}" if self.max else f"{self.min} and later"


@dataclass(frozen=True)
class Addon:
    name: str
    namespace: str
    kind: str
    workload: str
    container: str
    image: str
    chart: str
    replicas: int
    requests: Mapping[str, str]
    versions: tuple[AddonVersion, ...]

    def version(self, version: str) -> AddonVersion | None:
        return next((v for v in self.versions if v.version == version.lstrip("v")), None)


@cache
def catalogue() -> dict[str, Addon]:
    raw = yaml.safe_load(resources.files(__package__).joinpath("addon_catalogue.yaml").read_text())
    return {
        entry["name"]: Addon(
            **{key: value for key, value in entry.items() if key not in ("versions", "requests")},
            requests=dict(entry["requests"]),
            versions=tuple(AddonVersion(**version) for version in entry["versions"]),
        )
        for entry in raw["addons"]
    }


@dataclass(frozen=True)
class Installed:
    """One add-on found in a cluster, with where its version was read."""

    addon: str
    namespace: str
    version: str
    source: str  # "workload" (the running image) or "helm-release"
    evidence: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _split_image(image: str) -> tuple[str, str]:
    without_digest = image.split("@", 1)[0]
    repository, _, tag = without_digest.rpartition(":")
    if not repository or "/" in tag:
        return without_digest, ""
    return repository, tag.lstrip("v")


def inventory(workloads: Sequence[Mapping[str, Any]], releases: Sequence[HelmRelease]) -> list[Installed]:
    """What is installed: a workload running an add-on's image is the truth (it is what runs);
    the highest deployed Helm release of an add-on's chart counts where no workload says so."""
    by_image = {addon.image: addon for addon in catalogue().values()}
    by_chart = {addon.chart: addon for addon in catalogue().values()}
    found: dict[tuple[str, str], Installed] = {}
    for workload in workloads:
        meta = workload["metadata"]
        containers = (((workload.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        for container in containers:
            repository, tag = _split_image(str(container.get("image", "")))
            addon = by_image.get(repository)
            if addon is None or not tag:
                continue
            found[(addon.name, meta["namespace"])] = Installed(
                addon.name,
                meta["namespace"],
                tag,
                "workload",
                f"{workload['kind']} {meta['namespace']}/{meta['name']} runs {container['image']}",
            )
    for release in sorted(releases, key=lambda r: r.revision):
        addon = by_chart.get(release.chart)
        if addon is None or (addon.name, release.namespace) in found or not release.app_version:
            continue
        found[(addon.name, release.namespace)] = Installed(
            addon.name,
            release.namespace,
            release.app_version.lstrip("v"),
            "helm-release",
            f"secret {release.namespace}/sh.helm.release.v1.{release.name}.v{release.revision}: chart "
            f"{release.chart}-{release.chart_version}",
        )
    return sorted(found.values(), key=lambda item: (item.addon, item.namespace))


def supporting_versions(addon: Addon, minor: Version) -> list[AddonVersion]:
    return [version for version in addon.versions if version.supports(minor)]


def compatibility_findings(installed: Sequence[Installed], target: Version) -> list[Finding]:
    """Blocking: an installed add-on whose version does not support the target minor (or is not
    in the catalogue), naming the oldest catalogued version that does."""
    findings = []
    for item in installed:
        addon = catalogue()[item.addon]
        known = addon.version(item.version)
        if known is not None and known.supports(target):
            continue
        candidates = supporting_versions(addon, target)
        would = (
            f"upgrade {addon.name} to {candidates[0].version} (supports {candidates[0].range_text}) first"
            if candidates
            else f"no catalogued {addon.name} version supports {target.minor_text} yet"
        )
        why = (
            f"supports Kubernetes {known.range_text}"
            if known is not None
            else "is not in the add-on catalogue, so its support is unknown"
        )
        findings.append(
            Finding(
                "addon-incompatible",
                Severity.BLOCKING,
                f"add-on {addon.name} {item.version} ({item.namespace})",
                f"{addon.name} {item.version} {why}, not {target.minor_text}: {would}",
                item.evidence,
                item.source,
            )
        )
    return findings


def manifest(
    addon: Addon, version: AddonVersion, namespace: str, selector: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What an add-on operation applies (server-side apply, field manager `k8s-ops`). A workload
    already installed keeps its selector (immutable in Kubernetes); a fresh install gets ours."""
    labels = {"app.kubernetes.io/name": addon.name, "app.kubernetes.io/managed-by": FIELD_MANAGER}
    selected = dict(selector) if selector else labels
    template = {
        "metadata": {"labels": {**labels, **selected}},
        "spec": {
            "containers": [
                {
                    "name": addon.container,
                    "image": f"{addon.image}:v{version.version}",
                    "resources": {"requests": dict(addon.requests)},
                }
            ]
        },
    }
    spec: dict[str, Any] = {"selector": {"matchLabels": selected}, "template": template}
    if addon.kind == "Deployment":
        spec["replicas"] = addon.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": addon.kind,
        "metadata": {
            "name": addon.workload,
            "namespace": namespace,
            "labels": {**labels, "app.kubernetes.io/version": version.version},
        },
        "spec": spec,
    }


def rollout_problem(workload: Mapping[str, Any], image: str) -> str | None:
    """None once every replica runs the applied template and is available (`kubectl rollout status`)."""
    meta, status = workload["metadata"], workload.get("status") or {}
    if int(status.get("observedGeneration", 0)) < int(meta.get("generation", 1)):
        return "the controller has not seen the new template yet"
    if workload["kind"] == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled", 0))
        updated, available = int(status.get("updatedNumberScheduled", desired)), int(status.get("numberAvailable", 0))
    else:
        desired = int(workload["spec"].get("replicas", 1))
        updated, available = int(status.get("updatedReplicas", 0)), int(status.get("availableReplicas", 0))
    if updated < desired or available < desired:
        return f"{available} of {desired} replicas of {image} available"
    return None
