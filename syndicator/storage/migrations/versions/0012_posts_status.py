"""an index on the posts' status, for the reads that ask by status across channels

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 08:00:00

The health snapshot asks every second for the approved posts (`list_posts(status=[approved])`,
server.py), and the publisher, the bot and the CLI ask by status too. The only index with the
status led with the channel, so those reads walked the whole outbox in id order: on 100,000
posts (a province's year or two on two channels) 104 ms each, every second; with this index
0.06 ms (docs/benchmarks.md, issue 11).
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_posts_status", "posts", ["status"])


def downgrade() -> None:
    op.drop_index("ix_posts_status", table_name="posts")
