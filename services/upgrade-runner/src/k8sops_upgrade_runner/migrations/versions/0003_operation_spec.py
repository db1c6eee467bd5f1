"""operations.spec: what an add-on or drift operation acts on; cluster_baselines

Revision ID: 0003
"""

from alembic import op

from k8sops_upgrade_runner.models import cluster_baselines, metadata

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: 0002 creates the tables from models.py, which now has the column already.
    op.execute("ALTER TABLE operations ADD COLUMN IF NOT EXISTS spec JSONB")
    metadata.create_all(op.get_bind(), tables=[cluster_baselines])
