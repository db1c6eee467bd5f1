"""clusters.timezone: the engagement's IANA timezone, whose calendar the quarters follow

Clusters recorded before keep working in UTC (the server default) until the next
`engagement.changed` brings their engagement's timezone.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clusters", sa.Column("timezone", sa.Text, nullable=False, server_default="UTC"))


def downgrade() -> None:
    op.drop_column("clusters", "timezone")
