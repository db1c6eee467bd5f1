"""Intake's own settings, beside the shared ServiceSettings: outbound webhook delivery."""

from __future__ import annotations

from datetime import timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict

from k8sops_common.service import ServiceContext


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="K8SOPS_WEBHOOK_", extra="ignore")

    allow_private_targets: bool = False  # loopback and private ranges; tests and local runs turn it on
    retry_base_s: float = 5.0
    retry_max_s: float = 3600.0
    max_attempts: int = 10
    disable_after_failures: int = 15  # consecutive failed attempts, across deliveries, before disabling
    timeout_s: float = 10.0
    poll_interval_s: float = 0.5
    batch_size: int = 50
    lease_s: float = 60.0

    @property
    def retry_base(self) -> timedelta:
        return timedelta(seconds=self.retry_base_s)

    @property
    def retry_max(self) -> timedelta:
        return timedelta(seconds=self.retry_max_s)


def webhook_settings(context: ServiceContext) -> WebhookSettings:
    """Read from the environment once per process; tests put their own in `context.extras`."""
    settings = context.extras.get("webhook_settings")
    if not isinstance(settings, WebhookSettings):
        settings = WebhookSettings()
        context.extras["webhook_settings"] = settings
    return settings
