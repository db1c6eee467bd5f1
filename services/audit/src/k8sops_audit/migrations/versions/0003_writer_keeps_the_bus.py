"""the writer role audit runs as keeps its bus tables: it numbers and marks outbox rows and prunes
both tables; the audit log itself stays append-only (SELECT and INSERT only)

The writer is `<owner>_writer` by the convention `k8sops run` (provision.py) and deploy/postgres
(init.sql) share; without such a role (tests, a service run as its owner) there is nothing to grant.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WRITER_PRIVILEGES = """
DO $$
DECLARE writer text := current_user || '_writer';
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = writer) THEN
    EXECUTE format('{verb} UPDATE, DELETE ON outbox, inbox {direction} %I', writer);
    EXECUTE format('{verb} USAGE ON SEQUENCE outbox_id_seq {direction} %I', writer);
  END IF;
END $$
"""


def upgrade() -> None:
    op.execute(WRITER_PRIVILEGES.format(verb="GRANT", direction="TO"))


def downgrade() -> None:
    op.execute(WRITER_PRIVILEGES.format(verb="REVOKE", direction="FROM"))
