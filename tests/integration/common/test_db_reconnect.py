"""A pooled connection PostgreSQL has closed (a restart, an idle timeout, an administrator) is
replaced before use: the next unit of work succeeds, on a new backend, instead of failing."""

from __future__ import annotations

from sqlalchemy import text

from k8sops_common.db import Database, create_engine
from tests.conftest import Isolation, poll_until


async def test_the_unit_of_work_after_postgresql_closed_the_pooled_connection_gets_a_new_one(
    isolation: Isolation,
) -> None:
    database = Database(create_engine(isolation.admin_url, "public", pool_size=1))
    try:
        async with database.unit_of_work() as session:
            first = await session.scalar(text("SELECT pg_backend_pid()"))
        # What a restart does to every pooled connection: the server ends its backend.
        await isolation.fetch("SELECT pg_terminate_backend($1)", first)
        await poll_until(
            lambda: isolation.fetch("SELECT 1 FROM pg_stat_activity WHERE pid = $1", first), lambda rows: not rows
        )
        async with database.unit_of_work() as session:
            second = await session.scalar(text("SELECT pg_backend_pid()"))
        assert second not in (None, first)
    finally:
        await database.dispose()
