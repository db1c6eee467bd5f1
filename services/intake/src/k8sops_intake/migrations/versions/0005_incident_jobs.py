"""incident jobs: the post-incident report drafted after resolution, and pages held back to the next
coverage start, as due rows any replica claims

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incident_jobs",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Text, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),  # "report" or "page"
        sa.Column("due_at", STAMP, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("done_at", STAMP),
        sa.Column("created_at", STAMP, nullable=False),
        # One of each per request: a redelivered event schedules nothing twice.
        sa.UniqueConstraint("request_id", "kind", name="incident_jobs_once"),
    )
    op.create_index("incident_jobs_due", "incident_jobs", ["due_at"], postgresql_where=sa.text("done_at IS NULL"))


def downgrade() -> None:
    op.drop_table("incident_jobs")
