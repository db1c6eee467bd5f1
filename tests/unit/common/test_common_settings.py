"""Settings come from K8SOPS_* variables plus the three conventional names."""

from __future__ import annotations

import pytest

from k8sops_common.db import asyncpg_url
from k8sops_common.settings import InsecureSettings, ServiceSettings


def test_conventional_names_and_prefix_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://intake:pw@db:5432/k8sops")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318")
    monkeypatch.setenv("K8SOPS_TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("K8SOPS_HTTP_PORT", "9001")
    settings = ServiceSettings(service_name="sla-timer")
    assert settings.database_url == "postgresql://intake:pw@db:5432/k8sops"
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.otel_exporter_otlp_endpoint == "http://jaeger:4318"
    assert settings.http_port == 9001
    assert settings.topic("request.opened") == "staging.request.opened"
    assert settings.consumer_group == "staging.sla-timer"


def test_schema_defaults_to_the_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K8SOPS_DB_SCHEMA", raising=False)
    assert ServiceSettings(service_name="upgrade-runner").schema_name == "upgrade_runner"
    assert ServiceSettings(service_name="audit", db_schema="audit_test").schema_name == "audit_test"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_urls_select_asyncpg(given: str, expected: str) -> None:
    assert asyncpg_url(given) == expected


def test_the_development_secret_is_refused_outside_development_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K8SOPS_JWT_SECRET", raising=False)
    monkeypatch.delenv("K8SOPS_DEV_MODE", raising=False)
    with pytest.raises(InsecureSettings, match="K8SOPS_JWT_SECRET"):
        ServiceSettings(service_name="intake").refuse_development_secret()
    ServiceSettings(service_name="intake", jwt_secret="a-secret-of-our-own-a-secret").refuse_development_secret()
    monkeypatch.setenv("K8SOPS_DEV_MODE", "1")
    ServiceSettings(service_name="intake").refuse_development_secret()
