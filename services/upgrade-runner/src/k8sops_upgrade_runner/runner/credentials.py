"""A cluster's credentials, found by its reference the way a secret store serves them.

The engagement records a reference per cluster (`vault://k8s/prod-dhaka-1/admin`), never the
secret. The runner reads it from `CREDENTIALS_DIR`, where the secret store's agent (Vault agent,
the Secrets Store CSI driver, a Kubernetes Secret volume) puts one file per reference:
`<dir>/<scheme>/<path>`, holding the bearer token. The token is only ever put on the request; it
is never logged, stored or sent on an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from kubernetes_asyncio.client.exceptions import ApiException

from ..settings import RunnerSettings
from .cluster import ClusterClient


class CredentialsError(RuntimeError):
    """The reference cannot be resolved; the message names the reference, never a secret."""


def credentials_file(directory: Path, reference: str) -> Path:
    """`vault://k8s/prod-dhaka-1/admin` → `<directory>/vault/k8s/prod-dhaka-1/admin`."""
    scheme, separator, rest = reference.partition("://")
    parts = [scheme, *rest.split("/")] if separator else reference.split("/")
    if not all(parts) or any(part in (".", "..") or "\\" in part for part in parts):
        raise CredentialsError(f"credentials reference {reference!r} is not a plain path in the secret store")
    return directory.joinpath(*parts)


def bearer_token(settings: RunnerSettings, reference: str | None) -> str | None:
    """The cluster's token, or None for a cluster recorded without a reference (no Authorization
    header is sent, and a cluster that needs one answers 401)."""
    if not reference:
        return None
    if not settings.credentials_dir:
        raise CredentialsError(f"no credentials directory configured to resolve {reference!r}")
    path = credentials_file(Path(settings.credentials_dir), reference)
    try:
        token = path.read_text().strip()
    except OSError:
        raise CredentialsError(f"no credentials for {reference!r} in the secret store") from None
    if not token:
        raise CredentialsError(f"the credentials for {reference!r} are empty")
    return token


def refused_credentials(error: Exception) -> dict[str, Any]:
    """The blocking pre-check finding for credentials that are missing or that the cluster refused
    (401/403); any other error is raised again, for the loop to retry."""
    if isinstance(error, ApiException) and error.status not in (401, 403):
        raise error
    answer = f"the cluster's API answered {error.status} {error.reason}" if isinstance(error, ApiException) else ""
    return {
        "code": "cluster-credentials",
        "severity": "blocking",
        "subject": "cluster credentials",
        "message": f"the cluster's credentials were refused or cannot be read: {answer or error}",
        "evidence": "Kubernetes API" if answer else "secret store",
        "signal": None,
    }


def open_cluster(cluster: Mapping[Any, Any], settings: RunnerSettings, http: httpx.AsyncClient) -> ClusterClient:
    """A client for the cluster with its own credentials."""
    token = bearer_token(settings, cluster.get("credentials_ref"))
    return ClusterClient(cluster["name"], cluster["api_endpoint"], settings, http, token=token)
