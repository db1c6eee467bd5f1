"""timers keep the response time used under earlier priorities (issue 14: piecewise elapsed time)

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "timers", sa.Column("response_elapsed_before", sa.Interval, nullable=False, server_default=sa.text("'0'"))
    )
    op.add_column("timers", sa.Column("response_clock_since", sa.DateTime(timezone=True)))
    # Timers re-targeted under the old rule measured everything from the opening on their current
    # clock: "nothing banked, current clock since the opening" is exactly that state.
    op.execute("UPDATE timers SET response_clock_since = opened_at")
