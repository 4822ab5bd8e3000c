"""indexes for the questions the running daemon asks every second or two

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:00:00

Measured with py-spy on `syndicator run` (2,000 feeds, 40,000 articles; docs/benchmarks.md,
issue 11): each of these reads walked a whole table, and the columns they test sit after
the articles' text or the sources' poll memory (overflow pages).
- `ix_articles_to_plan` (partial): the publisher asks every `publishing.interval` which
  originals still need posts (`planned_version < version`); the index holds only those rows,
  usually none, so the idle answer is one empty index lookup.
- `ix_articles_duplicate_of` (partial): the copies of the articles being planned (their lead
  images), and a post's copies in the approval preview.
- `ix_sources_status`: the health snapshot asks every second which sources are unhealthy.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WAITING = "planned_version < version AND duplicate_of IS NULL"
COPY = "duplicate_of IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_articles_to_plan",
        "articles",
        ["id"],
        sqlite_where=sa.text(WAITING),
        postgresql_where=sa.text(WAITING),
    )
    op.create_index(
        "ix_articles_duplicate_of",
        "articles",
        ["duplicate_of"],
        sqlite_where=sa.text(COPY),
        postgresql_where=sa.text(COPY),
    )
    op.create_index("ix_sources_status", "sources", ["status"])


def downgrade() -> None:
    op.drop_index("ix_sources_status", table_name="sources")
    op.drop_index("ix_articles_duplicate_of", table_name="articles")
    op.drop_index("ix_articles_to_plan", table_name="articles")
