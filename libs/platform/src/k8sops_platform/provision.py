"""Databases, roles and schemas: each service gets a role that can use only its own schema."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class ServiceDatabase:
    migration_url: str  # the schema's owner: runs the migrations
    runtime_url: str  # what the service connects as (the owner, or an insert-only writer)


def stored_password(secrets_dir: Path, role: str) -> str:
    """The role's password from `<secrets_dir>/<role>.password`, generated (random, 0600) on first use.

    The run command passes it to the service inside its DATABASE_URL; nothing else needs it.
    """
    path = secrets_dir / f"{role}.password"
    if not path.exists():
        secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as password_file:
            password_file.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


async def _ensure_login_role(connection: asyncpg.Connection, role: str, password: str) -> None:
    if password == role or len(password) < 2:
        raise ValueError(f"refusing to give role {role!r} its own name (or nothing) as password")
    # Set on every run, so a server provisioned earlier with a guessable password gets the new one.
    exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    literal = password.replace("'", "''")
    verb = "ALTER" if exists else "CREATE"
    await connection.execute(f"{verb} ROLE \"{role}\" LOGIN PASSWORD '{literal}'")


async def provision_service(
    admin_url: str,
    database: str,
    role: str,
    schema: str,
    password: str,
    *,
    append_only: bool = False,
    writer_password: str | None = None,
) -> ServiceDatabase:
    """Creates role and schema if missing and sets the passwords. Safe to run again.

    With `append_only`, the service runs as `<role>_writer` (password `writer_password`, default
    `password`), which may only SELECT and INSERT in the schema (the audit log): the owner role
    only migrates.
    """
    writer_password = writer_password or password
    connection = await _connect(with_database(admin_url, database))
    try:
        await _ensure_login_role(connection, role, password)
        await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{role}"')
        await connection.execute(f'ALTER ROLE "{role}" SET search_path = "{schema}"')
        # Nobody but the owner sees into the schema; the public schema is closed to everyone.
        await connection.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM PUBLIC')
        await connection.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        runtime_role = role
        if append_only:
            runtime_role = f"{role}_writer"
            await _ensure_login_role(connection, runtime_role, writer_password)
            await connection.execute(f'ALTER ROLE "{runtime_role}" SET search_path = "{schema}"')
            await connection.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{runtime_role}"')
            # Tables the owner creates later (migrations) are readable and appendable, nothing more.
            await connection.execute(
                f'ALTER DEFAULT PRIVILEGES FOR ROLE "{role}" IN SCHEMA "{schema}" '
                f'GRANT SELECT, INSERT ON TABLES TO "{runtime_role}"'
            )
            await connection.execute(f'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA "{schema}" TO "{runtime_role}"')
    finally:
        await connection.close()
    return ServiceDatabase(
        migration_url=role_url(admin_url, role, password, database),
        runtime_url=role_url(admin_url, runtime_role, writer_password if append_only else password, database),
    )
