"""sla-timer's own settings, beside the shared `ServiceSettings` (same `K8SOPS_` prefix)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SchedulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="K8SOPS_SLA_", extra="ignore")

    scheduler_batch_size: int = Field(default=200, gt=0, description="due timers claimed per transaction")
    scheduler_poll_interval_s: float = Field(
        default=0.1, gt=0, description="idle wait between looks for due timers; bounds the firing lag"
    )
