"""inserting outbox rows notifies the relay at commit (LISTEN/NOTIFY instead of a 50 ms poll)

Revision ID: 0007
"""

from alembic import op

from k8sops_common.bus.tables import create_outbox_notify, drop_outbox_notify

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_notify(op)


def downgrade() -> None:
    drop_outbox_notify(op)
