"""Incident response settings (prefix `K8SOPS_`): where the audit trail's query API is, and the
loop that drafts reports and sends held-back pages."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from k8sops_common.service import ServiceContext


class IncidentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="K8SOPS_", extra="ignore")

    audit_url: str = "http://127.0.0.1:8005"  # the audit service, read for cluster actions on the timeline
    audit_timeout_s: float = 5.0
    audit_max_pages: int = 5  # of 1,000 entries each, per timeline
    audit_token_ttl_s: int = 120  # intake's own token for the report drafted after resolution
    incident_jobs_poll_s: float = 2.0
    incident_jobs_lease_s: float = 120.0  # longer than an audit read, so a running job is not run twice
    incident_jobs_batch: int = 20
    incident_jobs_max_attempts: int = 10  # a job failing this often is given up (logged)


def incident_settings(context: ServiceContext) -> IncidentSettings:
    """Read from the environment once per process; tests put their own in `context.extras`."""
    settings = context.extras.get("incident_settings")
    if not isinstance(settings, IncidentSettings):
        settings = IncidentSettings()
        context.extras["incident_settings"] = settings
    return settings
