"""Service settings from environment variables.

Every variable uses the `K8SOPS_` prefix, except the three conventional ones that deployment
tools already know: `DATABASE_URL`, `KAFKA_BOOTSTRAP_SERVERS` and `OTEL_EXPORTER_OTLP_ENDPOINT`.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "K8SOPS_"
DEV_JWT_SECRET = "k8sops-dev-secret-change-me-in-production"


def usable_cores() -> int:
    """The cores this process may run on (its affinity), where the platform can tell."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class InsecureSettings(RuntimeError):
    pass


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    service_name: str = "k8sops"
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(default=None, description="Defaults to the service's documented port.")
    http_workers: int = Field(
        default_factory=usable_cores,
        ge=1,
        description="Processes serving the API (and each running the background loops); defaults to the cores.",
    )

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@localhost:5432/postgres",
        validation_alias=AliasChoices("DATABASE_URL", "K8SOPS_DATABASE_URL"),
        description="The service's own role; its search_path is set to db_schema.",
    )
    db_schema: str = Field(default="", description="Postgres schema; defaults to the service name.")
    db_pool_size: int = 10

    kafka_bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "K8SOPS_KAFKA_BOOTSTRAP_SERVERS"),
    )
    topic_prefix: str = Field(default="", description="Prepended to every topic and group name.")
    consumer_max_attempts: int = 3
    # A group join waits about half of this on Tansu before assigning partitions; a member silent
    # this long is presumed dead and its partitions go to the others.
    consumer_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    # How often a consumer reads back the last record it handled (bus/continuity.py).
    consumer_verify_interval_s: float = Field(default=1.0, gt=0)
    outbox_batch_size: int = 5000
    # The relay sleeps until a commit's NOTIFY wakes it (bus/wakeup.py), or this long at most.
    outbox_idle_poll_s: float = Field(default=5.0, gt=0)
    # Its idle poll while the listening connection is down (reconnecting).
    outbox_poll_interval_s: float = Field(default=0.05, gt=0)
    # The shortest time between two batches that do not fill `outbox_batch_size`.
    outbox_batch_interval_s: float = Field(default=0.05, ge=0)
    # The outbox is the durable log: sent rows stay this long so they can be published again.
    outbox_retention_s: float = Field(default=7 * 86_400, gt=0)
    # At least the outbox retention, so a re-published event still finds its inbox entry.
    inbox_retention_s: float = Field(default=8 * 86_400, gt=0)
    outbox_verify_interval_s: float = Field(default=1.0, gt=0)
    outbox_prune_interval_s: float = Field(default=3_600, gt=0)

    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "K8SOPS_OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    log_level: str = "INFO"

    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: str = DEV_JWT_SECRET
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    dev_mode: bool = Field(
        default=False, description="K8SOPS_DEV_MODE=1 allows the development JWT secret (local runs and tests only)."
    )
    max_body_bytes: int = Field(default=256 * 1024, gt=0, description="Request bodies above this are refused (413).")

    def refuse_development_secret(self) -> None:
        """Anyone can mint tokens with the published development secret, so only dev mode may use it."""
        if self.jwt_algorithm == "HS256" and self.jwt_secret == DEV_JWT_SECRET and not self.dev_mode:
            raise InsecureSettings(
                f"{self.service_name}: K8SOPS_JWT_SECRET is unset or the published development secret, so anyone "
                "could mint tokens. Set K8SOPS_JWT_SECRET to a secret of your own (or use RS256 with "
                "K8SOPS_JWT_JWKS_URL), or set K8SOPS_DEV_MODE=1 for a local development run."
            )

    @model_validator(mode="after")
    def _inbox_outlives_outbox(self) -> ServiceSettings:
        if self.inbox_retention_s < self.outbox_retention_s:
            raise ValueError("K8SOPS_INBOX_RETENTION_S must be at least K8SOPS_OUTBOX_RETENTION_S")
        return self

    @property
    def schema_name(self) -> str:
        return self.db_schema or self.service_name.replace("-", "_")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}{self.service_name}"
