"""Discovery documents (/version, /api, /apis, group/version resource lists) for one cluster version."""

from __future__ import annotations

import hashlib
from typing import Any

from .resources import SUBRESOURCE_KINDS, ResourceType, served_resources


def version_info(version: tuple[int, int, int]) -> dict[str, str]:
    git_version = f"v{version[0]}.{version[1]}.{version[2]}"
    return {
        "major": str(version[0]),
        "minor": str(version[1]),
        "gitVersion": git_version,
        "gitCommit": hashlib.sha1(git_version.encode()).hexdigest(),
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.22.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_versions(minor: tuple[int, int]) -> dict[str, list[str]]:
    """Group -> served versions, preferred first (the resource tables list preferred first)."""
    groups: dict[str, list[str]] = {}
    for group, version in served_resources(minor):
        if group:
            groups.setdefault(group, [])
            if version not in groups[group]:
                groups[group].append(version)
    return groups


def api_group(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(minor: tuple[int, int]) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [api_group(group, versions) for group, versions in _group_versions(minor).items()],
    }


def find_group(minor: tuple[int, int], group: str) -> dict[str, Any] | None:
    versions = _group_versions(minor).get(group)
    return api_group(group, versions) if versions else None


def resource_list(minor: tuple[int, int], group: str, version: str) -> dict[str, Any] | None:
    resources = served_resources(minor).get((group, version))
    if resources is None:
        return None
    entries: list[dict[str, Any]] = []
    for resource in resources:
        entries.append(_entry(resource))
        for sub in resource.subresources:
            entry: dict[str, Any] = {
                "name": f"{resource.plural}/{sub}",
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": ["get", "patch", "update"],
            }
            if sub in SUBRESOURCE_KINDS:
                sub_group, sub_version, sub_kind = SUBRESOURCE_KINDS[sub]
                entry.update(group=sub_group, version=sub_version, kind=sub_kind)
                entry["verbs"] = ["create"] if sub == "eviction" else ["get", "patch", "update"]
            if sub == "log":
                entry["verbs"] = ["get"]
            entries.append(entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


def _entry(resource: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
        "storageVersionHash": hashlib.sha1(resource.key.encode()).hexdigest()[:11],
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.group in ("", "apps") and resource.kind in ("Pod", "Deployment", "StatefulSet", "DaemonSet", "Service"):
        entry["categories"] = ["all"]
    return entry
