"""operation reports: the report of each operation that worked on a request, from upgrade.report

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "operation_reports",
        sa.Column("request_id", sa.Text, sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("operation_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("from_version", sa.Text),
        sa.Column("to_version", sa.Text),
        sa.Column("markdown", sa.Text, nullable=False),
        sa.Column("report", JSONB, nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("report_path", sa.Text, nullable=False),
        sa.Column("reported_at", STAMP, nullable=False),
        sa.Column("attached_at", STAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("operation_reports")
