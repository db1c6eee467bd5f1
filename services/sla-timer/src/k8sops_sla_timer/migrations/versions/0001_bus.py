"""outbox and inbox

Revision ID: 0001
"""

from alembic import op

from k8sops_common.bus.tables import create_bus_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_bus_tables(op)
