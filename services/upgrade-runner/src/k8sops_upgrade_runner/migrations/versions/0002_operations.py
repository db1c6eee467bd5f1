"""engagement copies, operations with steps and node progress, cluster leases, authorisations, actions

Revision ID: 0002
"""

from alembic import op

from k8sops_upgrade_runner.models import DOMAIN_TABLES, metadata

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The tables exactly as models.py defines them at this revision; later changes get revisions
    # of their own (ALTER), never an edit here.
    metadata.create_all(op.get_bind(), tables=list(DOMAIN_TABLES))
