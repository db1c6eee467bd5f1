"""operations.spec: what an add-on operation (and later kinds) acts on

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: 0002 creates the tables from models.py, which now has the column already.
    op.execute("ALTER TABLE operations ADD COLUMN IF NOT EXISTS spec JSONB")
