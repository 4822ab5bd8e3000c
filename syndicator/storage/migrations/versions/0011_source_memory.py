"""source_memory: the poller's memory moves off the sources row into its own table

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:00:00

SQLite rewrites a whole row (with its overflow pages) on any update, so the ~3 KB
`sources.poll_memory` (0009) was rewritten by every claim and every poll record, 304s
included (issue 11; docs/benchmarks.md, s1 and s5). The memory now lives in
`source_memory (source_id -> sources, memory, members, updated_at)`, written only when a
changed document was stored. `members` (new) holds the document's items in order (item hash,
guid) so the watcher knows which published articles are still in their feed (issue 12).
Existing memories are moved (their members stay unknown until the source's next whole parse).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_memory",
        sa.Column(
            "source_id",
            sa.String(64),
            sa.ForeignKey("sources.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("memory", sa.Text(), nullable=True),
        sa.Column("members", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # created_at stands in for "when it was written": the old column kept no time of its own.
    op.execute(
        "INSERT INTO source_memory (source_id, memory, members, updated_at) "
        "SELECT id, poll_memory, NULL, COALESCE(last_checked_at, created_at) FROM sources "
        "WHERE poll_memory IS NOT NULL"
    )
    # Native DROP COLUMN (SQLite >= 3.35, already required by the claim's RETURNING), not a
    # batch copy: rebuilding `sources` drops it, and with foreign keys on, that would cascade
    # into the rows just moved.
    op.execute("ALTER TABLE sources DROP COLUMN poll_memory")


def downgrade() -> None:
    op.add_column("sources", sa.Column("poll_memory", sa.Text(), nullable=True))
    op.execute(
        "UPDATE sources SET poll_memory = (SELECT memory FROM source_memory "
        "WHERE source_memory.source_id = sources.id)"
    )
    op.drop_table("source_memory")
