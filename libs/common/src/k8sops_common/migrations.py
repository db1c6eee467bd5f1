"""Alembic for every service: the version table lives in the service's own schema.

Each service keeps `migrations/` (env.py calls `run_alembic_env()`, plus `versions/`). `migrate()`
runs them programmatically; it is synchronous because Alembic drives its own event loop.
"""

from __future__ import annotations

import asyncio
from importlib import resources

from alembic import command, context
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from .db import create_engine

VERSION_TABLE = "alembic_version"


def migrate(migrations_package: str, database_url: str, schema: str, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(resources.files(migrations_package)))
    config.attributes["database_url"] = database_url
    config.attributes["schema"] = schema
    command.upgrade(config, revision)


def run_alembic_env() -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    config = context.config
    database_url: str = config.attributes["database_url"]
    schema: str = config.attributes["schema"]

    def upgrade(connection: Connection) -> None:
        # Provisioned schemas exist already, and their roles may not create schemas at all.
        if connection.scalar(text("SELECT to_regnamespace(:schema)"), {"schema": schema}) is None:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        context.configure(connection=connection, version_table_schema=schema, transaction_per_migration=False)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_engine(database_url, schema, pool_size=1)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(upgrade)
        finally:
            await engine.dispose()

    asyncio.run(run())
