"""clusters.credentials_ref: each cluster's reference into the secret store

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: 0002 creates the tables from models.py, which now has the column already.
    op.execute("ALTER TABLE clusters ADD COLUMN IF NOT EXISTS credentials_ref TEXT")
