"""cluster_drift: the latest drift measurement per cluster, for the quarterly health review

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_drift",
        sa.Column("cluster_id", sa.Text, primary_key=True),
        sa.Column("engagement_id", sa.Text, nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("desired_state", sa.Text, nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("operation_id", sa.Text),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("objects", JSONB, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cluster_drift")
