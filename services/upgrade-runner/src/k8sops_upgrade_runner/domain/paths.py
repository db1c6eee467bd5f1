"""Where an object lives on the Kubernetes API, from its apiVersion, kind and name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def object_path(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    group_version = obj["apiVersion"]
    base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    namespace = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
    return f"{base}{namespace}/{plural_of(obj['kind'])}/{meta['name']}"


def plural_of(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + ("es" if lower.endswith("s") else "s")
