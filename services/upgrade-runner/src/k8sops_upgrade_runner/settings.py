"""upgrade-runner's own settings, beside the shared `ServiceSettings` (prefix `K8SOPS_UPGRADE_`)."""

from __future__ import annotations

import os
import socket
import uuid

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _runner_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class RunnerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="K8SOPS_UPGRADE_", extra="ignore", populate_by_name=True)

    platform_api_url: str = Field(
        default="http://127.0.0.1:8010",
        validation_alias=AliasChoices("K8SOPS_UPGRADE_PLATFORM_API_URL", "K8SOPS_PLATFORM_API_URL"),
        description="the provider's platform API (node pools, upgrades); the sandbox's in the embedded default",
    )
    credentials_dir: str = Field(
        default="",
        description="where the secret store puts each cluster's credentials: reference "
        "vault://k8s/prod-1/admin is the file <dir>/vault/k8s/prod-1/admin holding its bearer token",
    )
    runner_id: str = Field(default_factory=_runner_id, description="this process's name on the cluster leases")
    max_surge: int = Field(
        default=1, ge=0, description="extra nodes per pool during an upgrade, if the surge quota allows (0: in place)"
    )
    drain_timeout_s: float = Field(default=1800, gt=0, description="bounded wait for one node's drain")
    eviction_retry_s: float = Field(default=5, gt=0, description="pause between eviction passes (kubectl's 5 s)")
    drain_poll_s: float = Field(
        default=1, gt=0, description="pause between looks at a drained node's terminating pods (kubectl's 1 s)"
    )
    node_ready_timeout_s: float = Field(default=1200, gt=0, description="wait for a replaced node to be Ready")
    postcheck_timeout_s: float = Field(
        default=600, gt=0, description="how long pods may stay Pending after the upgrade"
    )
    poll_interval_s: float = Field(default=1.0, gt=0, description="idle wait between looks for due operations")
    platform_poll_s: float = Field(default=1.0, gt=0, description="pause between polls of a platform operation")
    platform_wait_s: float = Field(
        default=20,
        ge=0,
        le=60,
        description="how long one call to the platform's operation wait (POST /v1/operations/{id}/wait, "
        "like GCE's) may hold its answer until the operation is done; 0: the platform has none, poll instead",
    )
    lease_ttl_s: float = Field(default=30, gt=0, description="a cluster lease lasts this long without renewal")
    max_parallel: int = Field(default=20, gt=0, description="operations one runner drives at once")
    http_timeout_s: float = Field(default=30, gt=0)
    git_allow_local: bool = Field(default=False, description="read desired state from file:// Git repositories")
