"""Databases, roles and schemas: each service gets a role that can use only its own schema."""

from __future__ import annotations

import asyncpg

from .embedded import role_url, with_database


async def _connect(admin_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))


async def ensure_database(admin_url: str, database: str) -> None:
    connection = await _connect(admin_url)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()


async def provision_service(admin_url: str, database: str, role: str, schema: str, password: str) -> str:
    """Creates role and schema if missing; returns the role's URL. Safe to run again."""
    connection = await _connect(with_database(admin_url, database))
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
            await connection.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{role}"')
        await connection.execute(f'ALTER ROLE "{role}" SET search_path = "{schema}"')
        # Nobody but the owner sees into the schema; the public schema is closed to everyone.
        await connection.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM PUBLIC')
        await connection.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
    finally:
        await connection.close()
    return role_url(admin_url, role, password, database)
