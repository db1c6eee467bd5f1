"""timers keep the trace context of the request that opened them (issue 12: breaches join its trace)

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("timers", sa.Column("traceparent", sa.Text))


def downgrade() -> None:
    op.drop_column("timers", "traceparent")
