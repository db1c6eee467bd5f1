"""Helm release records (`sh.helm.release.v1.<name>.v<N>` secrets) as Helm itself writes them, so
that after an add-on operation the inventory and the removed-API pre-check read what runs.

The record is the release JSON, gzipped, base64-encoded by Helm, and base64-encoded again as the
secret's `data`. Helm's own bookkeeping is followed: a new revision is `pending-install` or
`pending-upgrade` while it rolls out, then `deployed` with every earlier revision `superseded`; a
rollback is a new revision ("Rollback to N") and every earlier one becomes `superseded`."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

Obj = dict[str, Any]
PREFIX = "sh.helm.release.v1."
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


def decode(secret: Mapping[str, Any]) -> Obj | None:
    """The release JSON of a Helm record, None for any other secret."""
    encoded = (secret.get("data") or {}).get("release")
    labels = secret["metadata"].get("labels") or {}
    if not encoded or labels.get("owner") != "helm" or not secret["metadata"]["name"].startswith(PREFIX):
        return None
    release: Obj = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(encoded))))
    return release


def secret_of(release: Mapping[str, Any]) -> Obj:
    """The secret Helm stores `release` in (labels name, owner, status, version as Helm sets them)."""
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": f"{PREFIX}{release['name']}.v{release['version']}",
            "namespace": release["namespace"],
            "labels": {
                "name": release["name"],
                "owner": "helm",
                "status": release["info"]["status"],
                "version": str(release["version"]),
            },
        },
        "data": {"release": base64.b64encode(helm_encoded).decode()},
    }


def release_of_chart(releases: Sequence[Mapping[str, Any]], chart: str) -> str | None:
    """The name of the release that installs `chart` (the highest revision wins on a tie)."""
    matching = [r for r in releases if ((r.get("chart") or {}).get("metadata") or {}).get("name") == chart]
    return str(max(matching, key=lambda r: int(r["version"]))["name"]) if matching else None


def with_status(release: Mapping[str, Any], status: str, now: str, description: str | None = None) -> Obj:
    changed = copy.deepcopy(dict(release))
    changed["info"] = {**changed["info"], "status": status, "last_deployed": now}
    if description is not None:
        changed["info"]["description"] = description
    return changed


def new_revision(
    history: Sequence[Mapping[str, Any]],
    *,
    name: str,
    namespace: str,
    chart: Mapping[str, str],
    manifest: str,
    status: str,
    description: str,
    now: str,
) -> Obj:
    """The next revision of release `name` after `history` (its earlier revisions, any status)."""
    latest = max(history, key=lambda r: int(r["version"])) if history else None
    first = (latest or {}).get("info", {}).get("first_deployed", now)
    return {
        "name": name,
        "namespace": namespace,
        "version": int(latest["version"]) + 1 if latest else 1,
        "info": {"first_deployed": first, "last_deployed": now, "status": status, "description": description},
        "chart": {"metadata": {**dict(chart), "apiVersion": "v2"}},
        "config": dict((latest or {}).get("config") or {}),
        "manifest": manifest,
    }


def render_manifest(objects: Sequence[Mapping[str, Any]], chart: str) -> str:
    """The manifest text a release carries: what it applied, one document per object."""
    documents = []
    for obj in objects:
        source = f"# Source: {chart}/templates/{str(obj['kind']).lower()}.yaml"
        documents.append(f"---\n{source}\n{yaml.safe_dump(dict(obj), sort_keys=False)}")
    return "".join(documents)
