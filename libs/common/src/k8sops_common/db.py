"""Database engine and unit of work (SQLAlchemy 2 async + asyncpg).

Each service connects as its own role with `search_path` pinned to its own schema, so tables are
declared without a schema and migrations, queries and the bus tables all land in that schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

from .settings import ServiceSettings


def asyncpg_url(url: str) -> str:
    """Accepts the usual postgresql:// spelling and selects the asyncpg driver."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    return url


def _split_socket_host(url: str) -> tuple[str, dict[str, str]]:
    """asyncpg takes a unix-socket folder as `host=`; SQLAlchemy wants it as a connect arg."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    connect_args: dict[str, str] = {}
    if "host" in query:
        connect_args["host"] = query.pop("host")
    return urlunsplit(parts._replace(query=urlencode(query))), connect_args


def create_engine(database_url: str, schema: str, *, pool_size: int = 10) -> AsyncEngine:
    url, connect_args = _split_socket_host(asyncpg_url(database_url))
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={**connect_args, "server_settings": {"search_path": schema}},
    )
    event.listen(engine.sync_engine.pool, "checkout", _ping)
    return engine


def _ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Checks a pooled connection before each use, so the first request on it after PostgreSQL
    restarted (or closed it) gets a new connection instead of an error.

    In place of `pool_pre_ping`, whose asyncpg ping is three round trips (`BEGIN`, `;`,
    `ROLLBACK`, for pgbouncer's transaction mode, which the services do not use): the same empty
    statement alone, one round trip. A closed or broken connection makes the pool connect afresh."""
    try:
        await_only(dbapi_connection.driver_connection.fetchrow(";"))
    except (OSError, asyncpg.exceptions.InterfaceError, asyncpg.exceptions.PostgresError) as error:
        raise DisconnectionError(f"pooled connection unusable: {error!r}") from error


def engine_from_settings(settings: ServiceSettings) -> AsyncEngine:
    return create_engine(settings.database_url, settings.schema_name, pool_size=settings.db_pool_size)


class Database:
    """The engine plus a session factory; one `unit_of_work()` per command or event."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """Commits everything done in the block at once, or nothing if it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self, required_table: str) -> None:
        """Raises unless the database answers and the service's schema is migrated."""
        async with self.engine.connect() as connection:
            found = await connection.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": required_table})
            if not found:
                raise RuntimeError(f"table {required_table!r} missing: run the service's migrations")

    async def dispose(self) -> None:
        await self.engine.dispose()
