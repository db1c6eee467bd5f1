"""What the deploy tests check the files against: the documented services and ports (SPEC §11)
and the environment variable names `ServiceSettings` actually reads.

A test that takes `service` runs once per service; `port`, `module` and `schema` follow from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import AliasChoices

from k8sops_common.settings import ENV_PREFIX, ServiceSettings
from k8sops_intake.incidents.settings import IncidentSettings

SERVICE_PORTS = {
    "intake": 8001,
    "sla-timer": 8002,
    "upgrade-runner": 8003,
    "cost-analyzer": 8004,
    "audit": 8005,
}

# Settings every service must be given explicitly when deployed.
REQUIRED_ENV = frozenset(
    {
        "DATABASE_URL",
        "K8SOPS_DB_SCHEMA",
        "K8SOPS_SERVICE_NAME",
        "K8SOPS_HTTP_HOST",
        "K8SOPS_HTTP_PORT",
        "K8SOPS_JWT_SECRET",
        "KAFKA_BOOTSTRAP_SERVERS",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "service" in metafunc.fixturenames:
        metafunc.parametrize("service", list(SERVICE_PORTS), ids=list(SERVICE_PORTS))


@pytest.fixture
def port(service: str) -> int:
    return SERVICE_PORTS[service]


@pytest.fixture
def module(service: str) -> str:
    """The service's package: `python -m <module> serve|migrate`."""
    return "k8sops_" + service.replace("-", "_")


@pytest.fixture
def schema(service: str) -> str:
    """The service's Postgres schema, which is also the name of its role."""
    return service.replace("-", "_")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def settings_names() -> frozenset[str]:
    """Every variable ServiceSettings reads. A field with a validation alias is read only under its
    aliases (pydantic-settings then ignores the prefix); every other field under the prefix."""
    names: set[str] = set()
    for field_name, field in ServiceSettings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{ENV_PREFIX}{field_name}".upper())
    # Service-specific settings a deployment wires between services (intake reads the audit API).
    names.update(f"{ENV_PREFIX}{field_name}".upper() for field_name in IncidentSettings.model_fields)
    return frozenset(names)


@pytest.fixture(scope="session")
def required_env(settings_names: frozenset[str]) -> frozenset[str]:
    unknown = REQUIRED_ENV - settings_names
    assert not unknown, f"ServiceSettings no longer reads {sorted(unknown)}; update the deploy files and this list"
    return REQUIRED_ENV
