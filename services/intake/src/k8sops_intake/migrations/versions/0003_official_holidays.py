"""engagements keep the dates of the official holiday calendar (.ics) their admin uploaded

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
    op.add_column(
        "engagements", sa.Column("official_holidays", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
