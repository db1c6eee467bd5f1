"""Each service's role can use only its own schema; provisioning is safe to repeat."""

from __future__ import annotations

import asyncio
import uuid
from importlib import resources
from pathlib import Path

import asyncpg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from k8sops_common.migrations import migrate
from k8sops_platform.provision import ensure_database, provision_service, stored_password


def script_config(package: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files(package)))
    return config


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)


async def test_a_service_role_sees_only_its_own_schema(postgres_admin_url: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    database = f"prov_{suffix}"
    await ensure_database(postgres_admin_url, database)
    await ensure_database(postgres_admin_url, database)  # a second run changes nothing
    intake = await provision_service(postgres_admin_url, database, f"intake_{suffix}", f"intake_{suffix}", "pw")
    audit = await provision_service(postgres_admin_url, database, f"audit_{suffix}", f"audit_{suffix}", "pw")
    assert intake.runtime_url == intake.migration_url
    intake_url, audit_url = intake.migration_url, audit.migration_url
    await provision_service(postgres_admin_url, database, f"intake_{suffix}", f"intake_{suffix}", "pw")

    # Migrations run as the service's own role, and the version table lands in its schema.
    await asyncio.to_thread(migrate, "k8sops_intake.migrations", intake_url, f"intake_{suffix}")
    await asyncio.to_thread(migrate, "k8sops_audit.migrations", audit_url, f"audit_{suffix}")

    intake = await connect(intake_url)
    try:
        # The version table is the service's own, in its schema, at the newest revision.
        head = ScriptDirectory.from_config(script_config("k8sops_intake.migrations")).get_current_head()
        assert await intake.fetchval("SELECT version_num FROM alembic_version") == head
        assert await intake.fetchval("SELECT count(*) FROM outbox") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.fetch(f"SELECT * FROM audit_{suffix}.audit_entries")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute("CREATE TABLE public.sneaky (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute(f"CREATE SCHEMA another_{suffix}")
    finally:
        await intake.close()


async def test_roles_get_generated_passwords_never_their_names(postgres_admin_url: str, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    database, role = f"prov_{suffix}", f"audit_{suffix}"
    await ensure_database(postgres_admin_url, database)
    with pytest.raises(ValueError, match="its own name"):
        await provision_service(postgres_admin_url, database, role, role, role)

    secrets_dir = tmp_path / "secrets"
    owner, writer = stored_password(secrets_dir, role), stored_password(secrets_dir, f"{role}_writer")
    assert owner == stored_password(secrets_dir, role), "the stored password is read back, not regenerated"
    assert len({owner, writer, role}) == 3 and len(owner) >= 32
    assert (secrets_dir / f"{role}.password").stat().st_mode & 0o077 == 0, "readable by its owner only"

    # A server provisioned earlier with a guessable password gets the generated one on the next run.
    async def stored_verifier() -> str:
        admin = await connect(postgres_admin_url)
        try:
            return str(await admin.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role))
        finally:
            await admin.close()

    await provision_service(postgres_admin_url, database, role, role, "guessable", append_only=True)
    guessable = await stored_verifier()
    urls = await provision_service(
        postgres_admin_url, database, role, role, owner, append_only=True, writer_password=writer
    )
    assert guessable.startswith("SCRAM-SHA-256$") and await stored_verifier() != guessable
    assert f":{owner}@" in urls.migration_url and f":{writer}@" in urls.runtime_url
    for url in (urls.migration_url, urls.runtime_url):
        await (await connect(url)).close()
