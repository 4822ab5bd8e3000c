"""sources.poll_memory: what the poller remembers of a source's last document

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
# The brief named 0003 (the lead re-chains at merge); this branch already has 0008 on 0003,
# and two heads would stop `upgrade head`, so it follows 0008 here.
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("poll_memory", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("poll_memory")
