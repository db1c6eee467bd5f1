"""docker-compose.yml and deploy/postgres/init.sql agree with the code: services and ports,
settings names, roles and schemas, topics. Nothing runs; the files are parsed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import pytest
import yaml

from k8sops_common.bus.admin import DEFAULT_PARTITIONS, all_topic_names, partitions_of
from k8sops_platform.services import SERVICES_BY_NAME

Compose = dict[str, Any]


@pytest.fixture(scope="module")
def compose(repo_root: Path) -> Compose:
    loaded: Compose = yaml.safe_load((repo_root / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def init_sql(repo_root: Path) -> str:
    return (repo_root / "deploy" / "postgres" / "init.sql").read_text()


def _service(compose: Compose, name: str) -> dict[str, Any]:
    services: dict[str, Any] = compose["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    service: dict[str, Any] = services[name]
    return service


def _environment(compose: Compose, name: str) -> dict[str, str]:
    environment = _service(compose, name).get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def _depends_on(compose: Compose, name: str) -> dict[str, str]:
    depends_on = _service(compose, name).get("depends_on", {})
    return {dependency: spec["condition"] for dependency, spec in depends_on.items()}


def _host_ports(compose: Compose, name: str) -> dict[int, int]:
    """Published host port -> container port."""
    mappings: dict[int, int] = {}
    for entry in _service(compose, name).get("ports", []):
        host, container = str(entry).rsplit(":", 1)
        mappings[int(host.rsplit(":", 1)[-1])] = int(container.split("/")[0])
    return mappings


def _sql_statements(sql: str) -> list[str]:
    """Statements with whitespace collapsed, each ending in `;`; a psql meta-command is one line."""
    statements: list[str] = []
    pending: list[str] = []
    for line in re.sub(r"--[^\n]*", "", sql).splitlines():
        if line.strip().startswith("\\"):
            statements.append(line.strip())
            continue
        pending.append(line)
        while ";" in (text := " ".join(pending)):
            statement, rest = text.split(";", 1)
            statements.append(" ".join(statement.split()) + ";")
            pending = [rest]
    return [statement for statement in statements if statement != ";"]


def test_service_builds_from_the_repo_dockerfile(compose: Compose, repo_root: Path, service: str) -> None:
    for name in (service, f"{service}-migrate"):
        build = _service(compose, name).get("build")
        assert isinstance(build, dict), f"{name} must be built from the repository"
        assert (repo_root / build.get("context", ".")).resolve() == repo_root, f"{name}: build context is not the repo"
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile", f"{name}: not the repo Dockerfile"
    assert (repo_root / "Dockerfile").is_file()


def test_service_publishes_its_documented_port(compose: Compose, service: str, port: int) -> None:
    assert _host_ports(compose, service) == {port: port}


def test_service_migrates_its_schema_before_serving(compose: Compose, service: str, module: str) -> None:
    migrate = f"{service}-migrate"
    assert _service(compose, migrate)["command"] == [module, "migrate"]
    assert _service(compose, migrate).get("restart") == "no", "a one-shot migration must not restart"
    assert _depends_on(compose, migrate) == {"postgres": "service_healthy"}
    assert _service(compose, service)["command"] == [module, "serve"]
    assert _depends_on(compose, service) == {
        migrate: "service_completed_successfully",
        "kafka-init": "service_completed_successfully",
        "jaeger": "service_started",
    }


def test_environment_names_are_settings_the_service_reads(
    compose: Compose, service: str, settings_names: frozenset[str]
) -> None:
    for name in (service, f"{service}-migrate"):
        unknown = set(_environment(compose, name)) - settings_names
        assert not unknown, f"{name} sets {sorted(unknown)}, which ServiceSettings does not read (typo or rename?)"


def test_environment_has_every_required_setting(compose: Compose, service: str, required_env: frozenset[str]) -> None:
    for name in (service, f"{service}-migrate"):
        missing = required_env - set(_environment(compose, name))
        assert not missing, f"{name} lacks {sorted(missing)}"


def test_environment_values_belong_to_the_service(compose: Compose, service: str, port: int, schema: str) -> None:
    environment = _environment(compose, service)
    assert environment["K8SOPS_SERVICE_NAME"] == service
    assert environment["K8SOPS_HTTP_PORT"] == str(port)
    assert environment["K8SOPS_HTTP_HOST"] == "0.0.0.0", "the service must listen outside its container"
    assert environment["K8SOPS_DB_SCHEMA"] == schema
    database_url = _split_url(environment["DATABASE_URL"])
    assert database_url.scheme in ("postgresql", "postgres", "postgresql+asyncpg")
    if SERVICES_BY_NAME[service].append_only:
        assert database_url.username == f"{schema}_writer", "an append-only service runs as its insert-only role"
    else:
        assert database_url.username == schema, "each service connects as the role that owns its schema"
    assert (database_url.hostname, database_url.port, database_url.path) == ("postgres", 5432, "/k8sops")
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    migrate_environment = _environment(compose, f"{service}-migrate")
    assert _split_url(migrate_environment["DATABASE_URL"]).username == schema, "the schema's owner migrates it"
    assert {**migrate_environment, "DATABASE_URL": ""} == {**environment, "DATABASE_URL": ""}, (
        "migrate and serve must share one config"
    )


def test_services_reach_kafka_on_its_internal_listener(compose: Compose, service: str) -> None:
    kafka = _environment(compose, "kafka")
    internal = kafka["KAFKA_INTER_BROKER_LISTENER_NAME"]
    advertised = dict(listener.split("://", 1) for listener in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert _environment(compose, service)["KAFKA_BOOTSTRAP_SERVERS"] == advertised[internal] == "kafka:9092"


def test_service_healthcheck_asks_readyz_on_its_port(compose: Compose, service: str, port: int) -> None:
    test = _service(compose, service)["healthcheck"]["test"]
    command = " ".join(test) if isinstance(test, list) else test
    assert f"http://localhost:{port}/readyz" in command


def test_infrastructure_services_exist_with_healthchecks(compose: Compose) -> None:
    assert _service(compose, "kafka")["image"].startswith("apache/kafka:")
    assert re.fullmatch(r"postgres:1[67](\.\d+)?(-\w+)?", _service(compose, "postgres")["image"])
    assert _service(compose, "jaeger")["image"].startswith("jaegertracing/")
    for name in ("kafka", "postgres"):
        assert _service(compose, name).get("healthcheck", {}).get("test"), f"{name} needs a healthcheck"
    assert "pg_isready" in str(_service(compose, "postgres")["healthcheck"]["test"])


def test_kafka_runs_kraft_and_is_reachable_from_containers_and_host(compose: Compose) -> None:
    kafka = _environment(compose, "kafka")
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in kafka
    listeners = dict(listener.split("://", 1) for listener in kafka["KAFKA_LISTENERS"].split(","))
    advertised = dict(listener.split("://", 1) for listener in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    host_listener = next(name for name, address in advertised.items() if address == "localhost:9092")
    host_listener_port = int(listeners[host_listener].rsplit(":", 1)[1])
    assert _host_ports(compose, "kafka").get(9092) == host_listener_port, "localhost:9092 must reach the host listener"
    assert "kafka:9092" in advertised.values()


def test_jaeger_receives_otlp_and_serves_its_ui(compose: Compose) -> None:
    assert {4317, 4318, 16686} <= set(_host_ports(compose, "jaeger"))


def test_kafka_init_creates_every_topic_and_its_dlq(compose: Compose) -> None:
    kafka_init = _service(compose, "kafka-init")
    created = _environment(compose, "kafka-init")["TOPICS"].split()
    assert sorted(created) == sorted(all_topic_names()), "kafka-init's TOPICS differs from all_topic_names()"
    script = " ".join(kafka_init["command"])
    assert "for topic in $$TOPICS" in script and "kafka-topics.sh" in script and "--create" in script
    environment = _environment(compose, "kafka-init")
    assert environment["PARTITIONS"] == str(DEFAULT_PARTITIONS)
    # The one topic with more partitions gets them in compose as `k8sops run` gives them.
    assert environment["AUDIT_EVENT_PARTITIONS"] == str(partitions_of("audit.event"))
    assert '[ "$$topic" = audit.event ]; then partitions=$$AUDIT_EVENT_PARTITIONS' in script
    assert '--partitions "$$partitions"' in script
    assert _depends_on(compose, "kafka-init") == {"kafka": "service_healthy"}


def test_postgres_runs_the_init_script(compose: Compose) -> None:
    volumes = _service(compose, "postgres")["volumes"]
    assert any(str(volume).startswith("./deploy/postgres/init.sql:/docker-entrypoint-initdb.d/") for volume in volumes)


def _split_url(url: str) -> SplitResult:
    """A URL whose password is a compose variable (`${NAME:?message}`), split as compose will pass it."""
    return urlsplit(re.sub(r"\$\{[^}]*\}", "secret", url))


def _password_variable(compose: Compose, service: str, *, migrate: bool = True) -> str:
    """The variable the role's password comes from: required by compose, given to postgres, no default."""
    name = f"{service}-migrate" if migrate else service
    url = _environment(compose, name)["DATABASE_URL"]
    password = url.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)[1]
    match = re.fullmatch(r"\$\{(K8SOPS_DB_PASSWORD_\w+):\?[^}]+\}", password)
    assert match, f"{name}: the database password must come from a required variable, not {password!r}"
    assert _environment(compose, "postgres")[match.group(1)] == password, "postgres must create the role with it"
    return match.group(1)


def test_no_secret_has_a_default(compose: Compose) -> None:
    for name in ("K8SOPS_JWT_SECRET",):
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", compose["x-common-env"][name]), f"{name} must be required"
    assert re.fullmatch(
        r"\$\{K8SOPS_POSTGRES_PASSWORD:\?[^}]+\}", _environment(compose, "postgres")["POSTGRES_PASSWORD"]
    )


def test_init_sql_creates_the_database_first(init_sql: str) -> None:
    statements = _sql_statements(init_sql)
    assert statements[:2] == ["CREATE DATABASE k8sops;", "\\connect k8sops"]


def test_init_sql_gives_the_service_a_role_owning_only_its_schema(
    compose: Compose, init_sql: str, service: str, schema: str
) -> None:
    statements = _sql_statements(init_sql)
    variable = _password_variable(compose, service)
    for expected in (
        f"\\getenv {schema}_password {variable}",
        f"CREATE ROLE {schema} LOGIN PASSWORD :'{schema}_password';",
        f"CREATE SCHEMA {schema} AUTHORIZATION {schema};",
        f"ALTER ROLE {schema} SET search_path = {schema};",
        f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;",
    ):
        assert expected in statements, f"init.sql lacks: {expected}"
    assert not any(re.search(rf"\bGRANT\b.*\bTO\s+{schema}\b", statement, re.I) for statement in statements)
    if SERVICES_BY_NAME[service].append_only:
        writer = f"{schema}_writer"
        writer_variable = _password_variable(compose, service, migrate=False)
        assert writer_variable != variable, "the writer has a password of its own"
        for expected in (
            f"\\getenv {writer}_password {writer_variable}",
            f"CREATE ROLE {writer} LOGIN PASSWORD :'{writer}_password';",
            f"GRANT USAGE ON SCHEMA {schema} TO {writer};",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {schema} IN SCHEMA {schema} "
            f"GRANT SELECT, INSERT ON TABLES TO {writer};",
        ):
            assert expected in statements, f"init.sql lacks: {expected}"
        widening = rf"\bGRANT\b[^;]*\b(UPDATE|DELETE|TRUNCATE|ALL)\b[^;]*\bTO\s+{writer}\b"
        assert not any(re.search(widening, statement) for statement in statements)
